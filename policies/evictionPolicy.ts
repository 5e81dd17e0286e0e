/**
 * What an eviction policy decides: which resident expert leaves when a slot is needed.
 * Keys are layer · E + expert; a group is the whole cache (unified) or one layer (partitioned).
 * `now` is the access cursor (monotonic); `nextUse` is the cursor of the key's next access
 * (NEVER if none), which only offline policies read.
 */
export interface EvictionPolicy {
  readonly name: string
  insert(key: number, group: number, now: number, nextUse: number): void
  touch(key: number, group: number, now: number, nextUse: number): void
  remove(key: number, group: number): void
  /** Evict `victim` and insert `key` in one step (same group): remove + insert, faster. */
  replace(victim: number, key: number, group: number, now: number, nextUse: number): void
  /** The key to evict from `group` among keys with blocked[key] == 0; -1 if none. Removes nothing. */
  victim(group: number, blocked: Uint8Array): number
  /** Does this policy read `nextUse`? (then the replay computes it) */
  readonly needsFuture: boolean
}

export const NEVER = 0x7fffffff

export interface EvictionContext {
  readonly numKeys: number
  /** Slots per group. */
  readonly capacities: Int32Array
}
