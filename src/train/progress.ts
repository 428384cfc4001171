/**
 * Training progress. On a terminal: one redrawn line with a bar, ETA, running loss and throughput.
 * Otherwise (CI logs, pipes, files): plain lines, one per epoch plus one every 15 s within long epochs.
 * Written to stderr, so stdout stays clean for results and `--json`.
 */

export interface EpochSummary {
  epoch: number
  epochs: number
  trainLoss: number
  valLoss: number
  valAuc: Record<string, number>
  monitor: number
  improved: boolean
  rows: number
  seconds: number
}

export interface Progress {
  startEpoch(epoch: number, epochs: number, totalRows: number): void
  /** after each step: rows in the step and its loss */
  step(rows: number, loss: number): void
  endEpoch(summary: EpochSummary): void
  /** a free-form line (resume, early stop, restore) */
  note(line: string): void
}

export interface ProgressOptions {
  /** default process.stderr */
  stream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number }
  /** force the terminal (true) or plain (false) form; default: the stream's isTTY */
  tty?: boolean
  /** prefix of every line, e.g. "mmoe seed 1" */
  label?: string
  /** clock in ms, for tests */
  now?: () => number
}

/** plain mode: a line within an epoch at most this often */
const PLAIN_EVERY_MS = 15_000

/** A progress reporter that prints nothing (library use, tests). */
export const silentProgress: Progress = { startEpoch() {}, step() {}, endEpoch() {}, note() {} }

export function createProgress(options: ProgressOptions = {}): Progress {
  const stream = options.stream ?? process.stderr
  const tty = options.tty ?? Boolean(stream.isTTY)
  const now = options.now ?? (() => performance.now())
  const prefix = options.label ? `${options.label}: ` : ''
  let epoch = 0
  let epochs = 0
  let total = 0
  let done = 0
  let start = 0
  let lossSum = 0
  let steps = 0
  let lastDraw = 0
  let drawn = false

  const running = () => (steps > 0 ? lossSum / steps : NaN)
  const rate = () => done / Math.max(1e-9, (now() - start) / 1000)

  function draw(): void {
    const width = 16
    const frac = total > 0 ? Math.min(1, done / total) : 0
    const filled = Math.round(frac * width)
    const bar = '█'.repeat(filled) + '░'.repeat(width - filled)
    const eta = rate() > 0 ? (total - done) / rate() : NaN
    const line = `${prefix}epoch ${epoch}/${epochs} ${bar} ${(frac * 100).toFixed(0).padStart(3)}%  loss ${running().toFixed(4)}  ${formatRate(rate())}  ETA ${formatDuration(eta)}`
    stream.write(`\r${line.slice(0, (stream.columns || 120) - 1)}\x1b[K`)
    drawn = true
  }

  return {
    startEpoch(e, n, rows) {
      epoch = e
      epochs = n
      total = rows
      done = 0
      lossSum = 0
      steps = 0
      start = now()
      lastDraw = start
    },
    step(rows, loss) {
      done += rows
      lossSum += loss
      steps++
      const t = now()
      if (tty) {
        if (t - lastDraw > 100) {
          lastDraw = t
          draw()
        }
      } else if (done < total && t - lastDraw > PLAIN_EVERY_MS) {
        lastDraw = t
        stream.write(
          `${prefix}epoch ${epoch}/${epochs} ${((100 * done) / total).toFixed(0)}%  loss ${running().toFixed(4)}  ${formatRate(rate())}  ETA ${formatDuration((total - done) / rate())}\n`,
        )
      }
    },
    endEpoch(s) {
      if (drawn) stream.write('\r\x1b[K')
      drawn = false
      const aucs = Object.entries(s.valAuc)
        .map(([t, v]) => `${t} ${v.toFixed(4)}`)
        .join('  ')
      stream.write(
        `${prefix}epoch ${s.epoch}/${s.epochs}  train loss ${s.trainLoss.toFixed(4)}  val loss ${s.valLoss.toFixed(4)}  val AUC ${aucs}  ` +
          `(monitor ${s.monitor.toFixed(4)}${s.improved ? ', best' : ''})  ${formatRate(s.rows / Math.max(1e-9, s.seconds))}  ${s.seconds.toFixed(1)}s\n`,
      )
    },
    note(line) {
      if (drawn) stream.write('\r\x1b[K')
      drawn = false
      stream.write(`${prefix}${line}\n`)
    },
  }
}

export function formatRate(rowsPerSecond: number): string {
  if (!Number.isFinite(rowsPerSecond)) return '— rows/s'
  return rowsPerSecond >= 1000 ? `${(rowsPerSecond / 1000).toFixed(1)}k rows/s` : `${rowsPerSecond.toFixed(0)} rows/s`
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--'
  const s = Math.round(seconds)
  const m = Math.floor(s / 60)
  return m >= 60
    ? `${Math.floor(m / 60)}:${String(m % 60).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`
    : `${m}:${String(s % 60).padStart(2, '0')}`
}
