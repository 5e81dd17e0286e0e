import { Rng } from "../base/rng.ts"
import { AliasTable } from "./alias.ts"

/**
 * Sampling weights whose k-distinct draws (draw, reject repeats) select each expert with the
 * target probability: counts / tokens from real routing. Drawing k distinct from the raw counts
 * flattens the skew (an expert chosen by 97% of tokens would be chosen far less), so the weights
 * are corrected by simulation until the inclusion probabilities match.
 */
export function inclusionWeights(target: number[], k: number, seed: number, rounds = 10, samples = 20000): number[] {
  const E = target.length
  let w = target.map((p) => Math.max(p, 1e-6))
  const rng = new Rng(seed)
  const stamp = new Int32Array(E).fill(-1)
  for (let r = 0; r < rounds; r++) {
    const table = new AliasTable(w)
    const hits = new Float64Array(E)
    for (let s = 0; s < samples; s++) {
      for (let j = 0; j < k; j++) {
        let e = table.draw(rng)
        while (stamp[e] === s + r * samples) e = table.draw(rng)
        stamp[e] = s + r * samples
        hits[e]!++
      }
    }
    w = w.map((x, e) => x * (Math.max(target[e]!, 1e-6) / Math.max(hits[e]! / samples, 1e-6)) ** 0.7)
  }
  const sum = w.reduce((a, b) => a + b, 0)
  return w.map((x) => Math.round((x / sum) * 1e7) / 1e7)
}
