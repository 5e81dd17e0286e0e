/**
 * What an eviction policy decides: which resident expert leaves when a slot is needed.
 * Keys are layer · E + expert; a group is the whole cache (unified) or one layer (partitioned).
 * `now` is the access cursor (monotonic); `nextUse` is the cursor of the key's next access
 * (NEVER if none), which only offline policies read. `flat` is step · L + layer.
 */
export interface EvictionPolicy {
  readonly name: string
  /** Does this policy read `nextUse`? (then the replay computes it) */
  readonly needsFuture: boolean
  insert(key: number, group: number, now: number, nextUse: number): void
  touch(key: number, group: number, now: number, nextUse: number): void
  remove(key: number, group: number): void
  /** Evict `victim` and insert `key` in one step (same group): remove + insert, faster. */
  replace(victim: number, key: number, group: number, now: number, nextUse: number): void
  /**
   * The key to evict from `group` among keys with blocked[key] == 0; -1 if none. Removes nothing.
   * `demand` is false when a prefetch asks: policies that protect experts refuse those.
   */
  victim(group: number, blocked: Uint8Array, demand: boolean): number
  /** The gate of layer `flat` is reached. */
  onLayer?(flat: number): void
  /** A prefetcher predicted `key` for layer `targetFlat`. */
  onPredicted?(key: number, targetFlat: number): void
  /** The key's FFN at the current layer finished. */
  onDone?(key: number): void
  /** Static pinning: from now on the keys with mask[key] = 1 are pinned (never victims). */
  repin?(mask: Uint8Array, isResident: (key: number) => boolean, groupOf: (key: number) => number): void
  /**
   * A predicted expert turned out not to be needed at its layer (run-time correction). A layer's
   * calls come in the order its experts were prefetched; their effect must not depend on it.
   */
  onUnwanted?(key: number): void
  /** `blocked[key]` became 1 / 0 (sent only when the context says the caller reports every change). */
  block?(key: number): void
  unblock?(key: number): void
}

export const NEVER = 0x7fffffff

export interface EvictionContext {
  readonly numKeys: number
  /** Cache units per group: slots, or bytes when expert sizes differ (policies/cacheGeometry.ts). */
  readonly capacities: Float64Array
  /** The most keys a group can hold at once (sizes data structures). */
  readonly maxKeys: Int32Array
  /** Units one expert of each layer takes; null when every expert is one slot. */
  readonly unitOfLayer: Float64Array | null
  readonly layers: number
  readonly experts: number
  /** Accesses in the stream: `now` and every `nextUse` but NEVER lie in [0, accesses). */
  readonly accesses?: number
  /** Keys pinned on the GPU (static pinning). */
  readonly pinned?: Uint8Array
  /** The caller calls block/unblock on every change of `blocked` (the engine and cache-only replay do). */
  readonly notifiesBlocking?: boolean
}
