/**
 * Rows of a trace (token, layer, rank) against the lookups of its access stream: a replay looks
 * an expert up once per layer batch, at its first listing, and every row of that expert in the
 * batch shares the lookup's answer. Used to read a recording engine's verdicts per lookup (its hit
 * rate) and to compare a replay with them row by row.
 */
import type { AccessStream } from "./batching.ts"
import type { Trace } from "./trace.ts"

/** Call `visit(row, access, first)` for every recorded row, in stream order. */
export function forEachRow(
  t: Trace,
  a: AccessStream,
  visit: (row: number, access: number, token: number, layer: number, first: boolean) => void
): void {
  const { layers: L, experts: E, topK: K } = t.model
  const accessOf = new Int32Array(E).fill(-1)
  const seen = new Uint8Array(a.accesses)
  for (let s = 0; s < a.steps; s++) {
    for (let l = 0; l < L; l++) {
      const cell = s * L + l
      for (let i = a.offsets[cell]!; i < a.offsets[cell + 1]!; i++) accessOf[a.keys[i]!] = i
      for (let j = a.stepTokenOffsets[s]!; j < a.stepTokenOffsets[s + 1]!; j++) {
        const token = a.stepTokens[j]!
        if (t.present[token * L + l] === 0) continue
        for (let k = 0; k < K; k++) {
          const row = (token * L + l) * K + k
          const i = accessOf[t.experts[row]!]!
          visit(row, i, token, l, seen[i] === 0)
          seen[i] = 1
        }
      }
      for (let i = a.offsets[cell]!; i < a.offsets[cell + 1]!; i++) accessOf[a.keys[i]!] = -1
    }
  }
}

/** The engine's hit rate over the stream's lookups: its verdict at each lookup's first row. */
export function recordedHitRate(t: Trace, a: AccessStream): number {
  let hits = 0
  forEachRow(t, a, (row, _i, _token, _l, first) => {
    if (first) hits += t.residency![row]!
  })
  return a.accesses > 0 ? Math.round((hits / a.accesses) * 1e9) / 1e9 : 0
}
