import type { AccessStream } from "../traces/batching.ts"
import { NEVER } from "./evictionPolicy.ts"

/**
 * For each access i, the index of the next access to the same (layer, expert), or NEVER.
 * Also returns each key's first access, which is the next use of a key loaded before it is seen.
 */
export function computeNextUse(a: AccessStream, into?: Int32Array): { next: Int32Array; first: Int32Array } {
  const { layers: L, experts: E } = a
  const next = into && into.length >= a.accesses ? into : new Int32Array(a.accesses)
  const first = new Int32Array(L * E).fill(NEVER)
  for (let cell = a.steps * L - 1; cell >= 0; cell--) {
    const base = (cell % L) * E
    for (let i = a.offsets[cell + 1]! - 1; i >= a.offsets[cell]!; i--) {
      const key = base + a.keys[i]!
      next[i] = first[key]!
      first[key] = i
    }
  }
  return { next, first }
}
