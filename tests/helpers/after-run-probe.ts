/**
 * An AfterRun module for tests/engine/runtime.test.ts: reports Σ of output `y`, then adds `y` into a
 * shared accumulator (or throws, when asked to).
 */
import type { AfterRun } from '../../src/engine/runtime.js'

export function createAfterRun(init: { acc: Float32Array; fail: boolean }): AfterRun {
  return {
    consumes: new Set(['y']),
    report(outputs) {
      return { sum: outputs.y.reduce((a, b) => a + b, 0) }
    },
    apply(outputs, args) {
      if (init.fail) throw new Error('probe failure')
      const y = outputs.y
      const scale = (args as { scale: number }).scale
      for (let i = 0; i < y.length; i++) init.acc[i] += scale * y[i]
    },
  }
}
