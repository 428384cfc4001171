/**
 * Signals for a running server: SIGHUP reloads the model; SIGTERM and SIGINT close gracefully (in-flight
 * requests finish, connections still open after the shutdown deadline are closed), after which the
 * process has nothing left to run and exits. A repeated signal changes nothing: the deadline bounds
 * the wait.
 */
import type { Handler } from './handler.js'

/** What the listeners need of a running server (server.ts RunningServer has it; named here so the two files do not import each other). */
export interface Stoppable {
  close(): Promise<{ dropped: number }>
  readonly shutdownTimeoutMs: number
}

/** Installs the listeners; returns a function that removes them. `log` receives one line per event. */
export function handleSignals(
  server: Stoppable,
  handler: Handler,
  log: (line: string) => void = console.error,
): () => void {
  const onHup = () => {
    void handler.reload().then((res) => log(`SIGHUP: ${res.body}`))
  }
  let stopping = false
  const onStop = (signal: NodeJS.Signals) => () => {
    if (stopping) return
    stopping = true
    log(`${signal}: finishing in-flight requests (at most ${server.shutdownTimeoutMs} ms), then exiting`)
    void server.close().then(({ dropped }) => {
      if (dropped > 0)
        log(
          `shutdown deadline of ${server.shutdownTimeoutMs} ms passed: closed ${dropped} connection${dropped === 1 ? '' : 's'} still open`,
        )
      log('closed')
    })
  }
  const stops: [NodeJS.Signals, () => void][] = [
    ['SIGTERM', onStop('SIGTERM')],
    ['SIGINT', onStop('SIGINT')],
  ]
  process.on('SIGHUP', onHup)
  for (const [s, f] of stops) process.on(s, f)
  return () => {
    process.off('SIGHUP', onHup)
    for (const [s, f] of stops) process.off(s, f)
  }
}
