import { KeyList } from "./structures/keyList.ts"
import { StampQueue } from "./structures/stampQueue.ts"
import type { EvictionContext, EvictionPolicy } from "./evictionPolicy.ts"

/**
 * Least recently used: evict the expert whose last access is oldest among those not blocked.
 *
 * With thousands of prefetches in flight (DeepSeek-V3 at batch 8), the oldest end of the list
 * fills with blocked keys, and a scan for the oldest unblocked one became the replay's hot spot.
 * When the caller reports every (un)blocking (`ctx.notifiesBlocking`), keys found blocked at the
 * old end are set aside ("held") with their recency stamp; a held key that unblocks waits in a queue
 * by stamp. Held keys are older than every key still in the list (they were taken from its old
 * end, and a touch returns a key to the new end), so the oldest unblocked key is the queue's first if
 * there is one, else the list's oldest unblocked key: the same victim as the plain scan, found in
 * O(log n) amortized. Held keys mostly unblock in stamp order (transfers land in the order they
 * were issued): a StampQueue, a FIFO for those and a heap for the rest.
 */
export class LruPolicy implements EvictionPolicy {
  readonly name = "lru"
  readonly needsFuture = false
  private readonly list: KeyList
  private readonly parking: boolean
  private readonly held: Uint8Array
  private readonly stamp: Float64Array
  private readonly ready: StampQueue
  private readonly groupOfKey: Int32Array
  private clock = 0
  constructor(ctx: EvictionContext) {
    this.list = new KeyList(ctx.numKeys, ctx.capacities.length)
    this.parking = ctx.notifiesBlocking === true
    this.held = new Uint8Array(this.parking ? ctx.numKeys : 0)
    this.stamp = new Float64Array(this.parking ? ctx.numKeys : 0)
    this.ready = new StampQueue(this.parking ? ctx.numKeys : 1, this.parking ? ctx.maxKeys : [1])
    this.groupOfKey = new Int32Array(this.parking ? ctx.numKeys : 0)
  }
  insert(key: number, group: number): void {
    this.list.pushNewest(key, group)
    if (this.parking) {
      this.stamp[key] = ++this.clock
      this.groupOfKey[key] = group
    }
  }
  touch(key: number, group: number): void {
    if (this.parking) {
      if (this.held[key]) {
        this.unhold(key)
        this.list.pushNewest(key, group)
      } else this.list.moveToNewest(key, group)
      this.stamp[key] = ++this.clock
      return
    }
    this.list.moveToNewest(key, group)
  }
  remove(key: number): void {
    if (this.parking && this.held[key]) this.unhold(key)
    else this.list.unlink(key)
  }
  replace(victim: number, key: number, group: number): void {
    this.remove(victim)
    this.insert(key, group)
  }
  victim(group: number, blocked: Uint8Array): number {
    if (!this.parking) return this.list.oldestUnblocked(group, blocked)
    const top = this.ready.min(group)
    if (top >= 0) return top
    const s = this.list.numKeys + group
    for (let k = this.list.prev[s]!; k !== s; k = this.list.prev[s]!) {
      if (blocked[k] === 0) return k
      this.list.unlink(k) // blocked at the old end: set it aside until it unblocks
      this.held[k] = 1
    }
    return -1
  }
  block(key: number): void {
    if (this.parking && this.held[key]) this.ready.delete(key)
  }
  unblock(key: number): void {
    if (this.parking && this.held[key]) this.ready.add(key, this.groupOfKey[key]!, this.stamp[key]!)
  }
  private unhold(key: number): void {
    this.held[key] = 0
    this.ready.delete(key)
  }
}
