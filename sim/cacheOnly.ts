/**
 * Cache-only replay: hits and misses over the access stream, no time. The fast path, comparable
 * with libCacheSim: a miss loads the expert (evicting the policy's victim when the group is full).
 */
import type { AccessStream } from "../traces/batching.ts"
import type { EvictionPolicy } from "../policies/evictionPolicy.ts"
import type { CacheGeometry } from "../policies/cacheGeometry.ts"

export interface CacheOnlyCounts {
  hits: number
  misses: number
  layerHits: Float64Array
  layerAccesses: Float64Array
  peakSlots: number
}

export function replayCacheOnly(
  a: AccessStream,
  g: CacheGeometry,
  policy: EvictionPolicy,
  nextUse: Int32Array | null
): CacheOnlyCounts {
  const { layers: L, experts: E, keys, offsets } = a
  const resident = new Uint8Array(L * E)
  const blocked = new Uint8Array(L * E) // nothing is pinned in cache-only mode
  const used = new Int32Array(g.capacities.length)
  const layerHits = new Float64Array(L)
  const layerAccesses = new Float64Array(L)
  let hits = 0,
    misses = 0,
    occupied = 0,
    peak = 0
  const cells = a.steps * L
  for (let cell = 0; cell < cells; cell++) {
    const l = cell % L
    const base = l * E
    const group = g.groupOfLayer[l]!
    const cap = g.capacities[group]!
    const end = offsets[cell + 1]!
    let h = 0
    for (let i = offsets[cell]!; i < end; i++) {
      const key = base + keys[i]!
      const nu = nextUse === null ? 0 : nextUse[i]!
      if (resident[key] === 1) {
        h++
        policy.touch(key, group, i, nu)
        continue
      }
      resident[key] = 1
      if (used[group] === cap) {
        const v = policy.victim(group, blocked, true)
        policy.replace(v, key, group, i, nu)
        resident[v] = 0
        continue
      }
      policy.insert(key, group, i, nu)
      used[group]!++
      if (++occupied > peak) peak = occupied
    }
    hits += h
    misses += end - offsets[cell]! - h
    layerHits[l]! += h
    layerAccesses[l]! += end - offsets[cell]!
  }
  return { hits, misses, layerHits, layerAccesses, peakSlots: peak }
}
