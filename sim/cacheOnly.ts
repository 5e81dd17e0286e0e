/**
 * Cache-only replay: hits and misses over the access stream, no time. The fast path, comparable
 * with libCacheSim: a miss loads the expert (evicting the policy's victims until it fits).
 *
 * Two loops, one semantics. The slot loop (every expert one slot, room made at each insertion,
 * repeats counted once) is today's hot path. The general loop adds what real engines differ on
 * (traces/trace.ts `Accounting`): experts of different byte sizes, eviction after the layer's
 * batch (never evicting what the batch touched), and repeats refreshing recency.
 */
import type { AccessStream } from "../traces/batching.ts"
import { type Accounting, DEFAULT_ACCOUNTING } from "../traces/trace.ts"
import type { EvictionPolicy } from "../policies/evictionPolicy.ts"
import type { CacheGeometry } from "../policies/cacheGeometry.ts"

export interface CacheOnlyCounts {
  hits: number
  misses: number
  layerHits: Float64Array
  layerAccesses: Float64Array
  /** Most units (slots or bytes) held at once, after each batch's eviction. */
  peakUnits: number
  /** Units loaded over the run (bytes with a byte budget; misses with slots). */
  loadedUnits: number
  /** 1 where the access was a hit, when asked for (agreement with a recorded verdict). */
  hitOfAccess: Uint8Array | null
}

export function replayCacheOnly(
  a: AccessStream,
  g: CacheGeometry,
  policy: EvictionPolicy,
  nextUse: Int32Array | null,
  accounting: Accounting = DEFAULT_ACCOUNTING,
  recordHits = false
): CacheOnlyCounts {
  const plain = g.unitOfLayer === null && accounting.evict === "insert" && accounting.duplicates === "first"
  return plain && !recordHits
    ? slotLoop(a, g, policy, nextUse)
    : generalLoop(a, g, policy, nextUse, accounting, recordHits)
}

function slotLoop(a: AccessStream, g: CacheGeometry, policy: EvictionPolicy, nextUse: Int32Array | null) {
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
  return { hits, misses, layerHits, layerAccesses, peakUnits: peak, loadedUnits: misses, hitOfAccess: null }
}

function generalLoop(
  a: AccessStream,
  g: CacheGeometry,
  policy: EvictionPolicy,
  nextUse: Int32Array | null,
  acc: Accounting,
  recordHits: boolean
): CacheOnlyCounts {
  const { layers: L, experts: E, keys, offsets } = a
  const unit = g.unitOfLayer
  const resident = new Uint8Array(L * E)
  // evict=batch: the batch's experts are blocked until its eviction has run.
  const blocked = new Uint8Array(L * E)
  const used = new Float64Array(g.capacities.length)
  const layerHits = new Float64Array(L)
  const layerAccesses = new Float64Array(L)
  const hitOfAccess = recordHits ? new Uint8Array(a.accesses) : null
  const batch = acc.evict === "batch"
  const order = acc.duplicates === "refresh" ? a.lastUseOrder : null
  let hits = 0,
    misses = 0,
    occupied = 0,
    peak = 0,
    loaded = 0
  const evictUntil = (group: number, limit: number) => {
    while (used[group]! > limit) {
      const v = policy.victim(group, blocked, true)
      if (v < 0) throw new Error("cache-only replay: no victim (cache geometry was not validated)")
      policy.remove(v, group)
      resident[v] = 0
      const size = unit ? unit[Math.floor(v / E)]! : 1
      used[group]! -= size
      occupied -= size
    }
  }
  const cells = a.steps * L
  for (let cell = 0; cell < cells; cell++) {
    const l = cell % L
    const base = l * E
    const group = g.groupOfLayer[l]!
    const cap = g.capacities[group]!
    const size = unit ? unit[l]! : 1
    const from = offsets[cell]!,
      end = offsets[cell + 1]!
    let h = 0
    for (let i = from; i < end; i++) {
      const key = base + keys[i]!
      const nu = nextUse === null ? 0 : nextUse[i]!
      if (batch && blocked[key] === 0) {
        blocked[key] = 1
        policy.block?.(key)
      }
      if (resident[key] === 1) {
        h++
        if (hitOfAccess) hitOfAccess[i] = 1
        policy.touch(key, group, i, nu)
        continue
      }
      if (!batch) evictUntil(group, cap - size)
      resident[key] = 1
      policy.insert(key, group, i, nu)
      used[group]! += size
      occupied += size
      loaded += size
    }
    // Repeats refresh recency: the batch's experts, in the order of their last listing.
    if (order) {
      for (let j = from; j < end; j++) {
        const i = order[j]!
        const key = base + keys[i]!
        if (resident[key] === 1) policy.touch(key, group, i, nextUse === null ? 0 : nextUse[i]!)
      }
    }
    if (batch) {
      evictUntil(group, cap)
      for (let i = from; i < end; i++) {
        const key = base + keys[i]!
        if (blocked[key] === 1) {
          blocked[key] = 0
          policy.unblock?.(key)
        }
      }
    }
    if (occupied > peak) peak = occupied
    hits += h
    misses += end - from - h
    layerHits[l]! += h
    layerAccesses[l]! += end - from
  }
  return { hits, misses, layerHits, layerAccesses, peakUnits: peak, loadedUnits: loaded, hitOfAccess }
}
