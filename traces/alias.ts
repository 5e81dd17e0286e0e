import type { Rng } from "../base/rng.ts"

/** Walker's alias table: O(1) draws from a fixed discrete distribution. */
export class AliasTable {
  private readonly prob: Float64Array
  private readonly alias: Int32Array
  constructor(weights: ArrayLike<number>) {
    const n = weights.length
    let sum = 0
    for (let i = 0; i < n; i++) sum += weights[i]!
    this.prob = new Float64Array(n)
    this.alias = new Int32Array(n)
    const scaled = Float64Array.from({ length: n }, (_, i) => (weights[i]! * n) / sum)
    const small: number[] = [],
      large: number[] = []
    for (let i = n - 1; i >= 0; i--) (scaled[i]! < 1 ? small : large).push(i)
    while (small.length && large.length) {
      const s = small.pop()!,
        l = large.pop()!
      this.prob[s] = scaled[s]!
      this.alias[s] = l
      scaled[l] = scaled[l]! + scaled[s]! - 1
      ;(scaled[l]! < 1 ? small : large).push(l)
    }
    for (const i of [...small, ...large]) this.prob[i] = 1
  }
  draw(rng: Rng): number {
    const prob = this.prob
    const u = rng.float() * prob.length
    const i = u | 0
    return u - i < prob[i]! ? i : this.alias[i]!
  }
}
