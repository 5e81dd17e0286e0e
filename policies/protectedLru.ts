import { KeyList } from "./structures/keyList.ts"
import type { EvictionContext, EvictionPolicy } from "./evictionPolicy.ts"

/**
 * LRU with two priority levels. An expert is *high* priority while it was used within the last
 * `recent` layers or is predicted for a layer not yet reached; everything else is *low*.
 * Eviction takes the least recently used low expert; a demand load may fall back to the least
 * recently used high one, a prefetch may not (it never displaces protected experts).
 * - EF-A two-level LRU: `cache=two-level-lru[:recent=R]` (R defaults to one step, L layers).
 * - EF-H PLEC eviction: `cache=plec` is this with recent = 0 (an expert is protected only while
 *   predicted; once its layer runs, its slot is free for later layers), plus run-time
 *   correction: a predicted expert its layer did not need is demoted at once.
 */
export class ProtectedLruPolicy implements EvictionPolicy {
  readonly needsFuture = false
  private readonly list: KeyList
  /** Flat layer index up to which each key is high priority. */
  private readonly highUntil: Float64Array
  private flat = 0
  constructor(
    readonly name: string,
    ctx: EvictionContext,
    private readonly recent: number
  ) {
    this.list = new KeyList(ctx.numKeys, ctx.capacities.length)
    this.highUntil = new Float64Array(ctx.numKeys).fill(-1)
  }
  onLayer(flat: number): void {
    this.flat = flat
  }
  onPredicted(key: number, targetFlat: number): void {
    if (targetFlat > this.highUntil[key]!) this.highUntil[key] = targetFlat
  }
  onUnwanted(key: number): void {
    this.highUntil[key] = -1
  }
  /** Done at this layer and not protected beyond it: low priority from now on. */
  onDone(key: number): void {
    if (this.highUntil[key]! <= this.flat) this.highUntil[key] = -1
  }
  private used(key: number): void {
    const until = this.flat + this.recent
    if (until > this.highUntil[key]!) this.highUntil[key] = until
  }
  insert(key: number, group: number): void {
    this.list.pushNewest(key, group)
    this.used(key)
  }
  touch(key: number, group: number): void {
    this.list.moveToNewest(key, group)
    this.used(key)
  }
  remove(key: number): void {
    this.list.unlink(key)
  }
  replace(victim: number, key: number, group: number): void {
    this.list.unlink(victim)
    this.insert(key, group)
  }
  victim(group: number, blocked: Uint8Array, demand: boolean): number {
    const list = this.list
    const s = list.numKeys + group
    for (let k = list.prev[s]!; k !== s; k = list.prev[k]!)
      if (blocked[k] === 0 && this.highUntil[k]! < this.flat) return k
    return demand ? list.oldestUnblocked(group, blocked) : -1
  }
}
