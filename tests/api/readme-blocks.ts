/**
 * README.md's fenced code blocks, and its shell blocks split into commands as sh would read them:
 * quotes may span lines, a trailing `\` joins lines, `#` outside quotes starts a comment.
 */

export interface CodeBlock {
  lang: string
  text: string
  /** 1-based line of the opening fence */
  line: number
}

export interface ShellCommand {
  /** words after quote removal, e.g. ['npx', 'resflow', 'train', '--config', 'configs/synthetic.yaml'] */
  words: string[]
  /** 1-based README line the command starts on */
  line: number
}

/** Every ```lang block of a markdown text, in order. */
export function fencedBlocks(markdown: string, lang: string): CodeBlock[] {
  const blocks: CodeBlock[] = []
  const lines = markdown.split('\n')
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== '```' + lang) continue
    const start = i
    const body: string[] = []
    for (i++; i < lines.length && lines[i].trim() !== '```'; i++) body.push(lines[i])
    blocks.push({ lang, text: body.join('\n'), line: start + 1 })
  }
  return blocks
}

/** The commands of a shell block (`line` of the block's fence), one per unquoted newline. */
export function shellCommands(text: string, fenceLine: number): ShellCommand[] {
  const commands: ShellCommand[] = []
  let words: string[] = []
  let word: string | null = null // null: between words
  let line = fenceLine + 1
  let startLine = line
  const endWord = () => {
    if (word !== null) words.push(word)
    word = null
  }
  const endCommand = () => {
    endWord()
    if (words.length > 0) commands.push({ words, line: startLine })
    words = []
  }
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (words.length === 0 && word === null) startLine = line
    if (c === '\n') {
      endCommand()
      line++
    } else if (c === '\\' && text[i + 1] === '\n') {
      endWord() // a line continuation
      i++
      line++
    } else if (c === ' ' || c === '\t') {
      endWord()
    } else if (c === '#' && word === null) {
      while (i + 1 < text.length && text[i + 1] !== '\n') i++ // a comment, to the end of the line
    } else if (c === "'" || c === '"') {
      const close = text.indexOf(c, i + 1)
      if (close < 0) throw new Error(`README line ${line}: unclosed ${c}`)
      const quoted = text.slice(i + 1, close)
      word = (word ?? '') + quoted
      line += quoted.split('\n').length - 1
      i = close
    } else {
      word = (word ?? '') + c
    }
  }
  endCommand()
  return commands
}

/** The CLI arguments of a command that runs resflow (`npx resflow`, `resflow`, `npm run resflow --`), else null. */
export function resflowArgv(words: string[]): string[] | null {
  if (words[0] === 'npx' && words[1] === 'resflow') return words.slice(2)
  if (words[0] === 'resflow') return words.slice(1)
  if (words.slice(0, 4).join(' ') === 'npm run resflow --') return words.slice(4)
  return null
}

export interface CurlRequest {
  url: string
  headers: Record<string, string>
  body: string | undefined
}

/** `curl [-s] URL [-H 'name: value']... [-d BODY]` as a request (POST when a body is given, as curl does). */
export function parseCurl(words: string[]): CurlRequest {
  const request: CurlRequest = { url: '', headers: {}, body: undefined }
  for (let i = 1; i < words.length; i++) {
    const w = words[i]
    if (w === '-s' || w === '--silent') continue
    if (w === '-H' || w === '--header') {
      const [name, ...value] = words[++i].split(':')
      request.headers[name.trim().toLowerCase()] = value.join(':').trim()
    } else if (w === '-d' || w === '--data') {
      request.body = words[++i]
    } else if (w.startsWith('-')) {
      throw new Error(`curl: option ${w} is not understood by this test (add it to parseCurl)`)
    } else {
      request.url = w
    }
  }
  return request
}
