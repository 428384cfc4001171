/** Statistics shared by the benchmark scripts. */

/** Mean and sample standard deviation (n − 1; NaN for a single value). */
export function meanStd(xs: number[]): { mean: number; std: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length
  const std = xs.length > 1 ? Math.sqrt(xs.reduce((a, v) => a + (v - mean) ** 2, 0) / (xs.length - 1)) : NaN
  return { mean, std }
}
