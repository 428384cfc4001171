/**
 * A tiny KuaiRand-style log for the adapter and preset tests: the log file's header, heavy-tailed watch times,
 * and the rows the paper's run leaves out (play_time_ms = 0, tab ≠ 1, tab missing) mixed in. Every 10th row
 * plays an edge value (5000, 5999, 6000, 80999 or 81000 ms) so whole-second labels differ from millisecond ones.
 */
import { writeFileSync } from 'node:fs'
import { Rng } from './rng.js'

export const KUAIRAND_HEADER =
  'user_id,video_id,date,hourmin,time_ms,is_click,is_like,is_follow,is_comment,is_forward,is_hate,long_view,play_time_ms,duration_ms,profile_stay_time,comment_stay_time,is_profile_enter,is_rand,tab'

export interface LogRow {
  click: number
  playMs: number
  /** null: an empty cell */
  tab: number | null
}

const EDGES_MS = [5000, 5999, 6000, 80_999, 81_000]

/**
 * Line `i` of a log: random user and video ids, the given click, watch and duration (long_view = watched more
 * than half), a random is_rand, then `tab()` (called last, so a tab drawn from `rng` comes after is_rand).
 */
export function kuairandLine(
  rng: Rng,
  i: number,
  row: { click: number; playMs: number; durationMs: number },
  tab: () => number | string,
): string {
  const { click, playMs, durationMs } = row
  return [
    100 + rng.int(20),
    2000 + rng.int(60),
    20220408,
    1200,
    1649400000000 + i,
    click,
    0,
    0,
    0,
    0,
    0,
    playMs > 0.5 * durationMs ? 1 : 0,
    playMs,
    durationMs,
    0,
    0,
    0,
    rng.int(2),
    tab(),
  ].join(',')
}

export function writeKuaiRandLog(file: string, rows: number, seed: number): LogRow[] {
  const rng = new Rng(seed)
  const out: LogRow[] = []
  const lines = [KUAIRAND_HEADER]
  for (let i = 0; i < rows; i++) {
    const click = rng.next() < 0.5 ? 1 : 0
    const played = rng.next() < 0.75
    const playMs = !played
      ? 0
      : i % 10 === 0
        ? EDGES_MS[(i / 10) % EDGES_MS.length]
        : Math.round(1000 * Math.exp(rng.next() * 4.7))
    const u = rng.next()
    const tab = u < 0.05 ? null : u < 0.7 ? 1 : u < 0.85 ? 0 : 2
    const durationMs = 10_000 + rng.int(120_000)
    out.push({ click, playMs, tab })
    lines.push(kuairandLine(rng, i, { click, playMs, durationMs }, () => tab ?? ''))
  }
  writeFileSync(file, lines.join('\n') + '\n')
  return out
}

/** Whether the paper's run keeps a row: play_time_ms > 0 and tab = 1 (dataset/kuairand_pure/get_training_csv_pure.py). */
export const paperKeeps = (r: LogRow) => r.playMs > 0 && r.tab === 1
