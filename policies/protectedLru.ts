import { DeadlineBuckets } from "./structures/deadlineBuckets.ts"
import { KeyList } from "./structures/keyList.ts"
import { StampQueue } from "./structures/stampQueue.ts"
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
 *
 * Indexed mode (when the caller reports every (un)blocking, as timed replays do): the evictable
 * keys (cached, not blocked, low) sit in a queue per group ordered by recency stamp (mostly a FIFO:
 * keys turn evictable about in the order they were used), and protected
 * keys in buckets by the layer their protection ends, so a victim is a queue's minimum instead of a
 * scan past every protected key — EF-H's path prefetch protects nearly the whole cache while it
 * asks for slots thousands of times a step. Same victim as the scan: the least recent evictable.
 * A demand load that finds none takes the least recent unblocked key, protected or not: the
 * oldest of the recency list, where blocked keys met on the way are parked (taken out of the list;
 * they may be thousands of queued prefetches) and, once unblocked, wait in a queue by stamp. Parked
 * keys are older than any key in the list, so that queue's minimum goes first (as in lru.ts).
 */
export class ProtectedLruPolicy implements EvictionPolicy {
  readonly needsFuture = false
  private readonly list: KeyList
  /** Flat layer index up to which each key is high priority. */
  private readonly highUntil: Float64Array
  private flat = 0
  private readonly indexed: Indexed | null
  private clock = 0
  constructor(
    readonly name: string,
    ctx: EvictionContext,
    private readonly recent: number
  ) {
    this.list = new KeyList(ctx.numKeys, ctx.capacities.length)
    this.highUntil = new Float64Array(ctx.numKeys).fill(-1)
    const n = ctx.numKeys
    this.indexed = ctx.notifiesBlocking
      ? {
          // Sized by keys: capacities are bytes under a byte budget.
          evictable: new StampQueue(n, ctx.maxKeys),
          held: new Uint8Array(n),
          ready: new StampQueue(n, ctx.maxKeys),
          protectedUntil: new DeadlineBuckets(n),
          stamp: new Float64Array(n),
          groupOf: new Int32Array(n),
          cached: new Uint8Array(n),
          blocked: new Uint8Array(n)
        }
      : null
  }
  onLayer(flat: number): void {
    this.flat = flat
    const x = this.indexed
    if (!x) return
    // Protection that ended before this layer: those keys are low now.
    x.protectedUntil.expire(flat, this.expired)
  }
  private readonly expired = (key: number): void => this.refresh(key)
  block(key: number): void {
    const x = this.indexed
    if (!x) return
    x.blocked[key] = 1
    if (x.held[key]) x.ready.delete(key)
    this.refreshEvictable(key) // (protection does not depend on blocking)
  }
  unblock(key: number): void {
    const x = this.indexed
    if (!x) return
    x.blocked[key] = 0
    if (x.held[key]) x.ready.add(key, x.groupOf[key]!, x.stamp[key]!)
    this.refreshEvictable(key)
  }
  onPredicted(key: number, targetFlat: number): void {
    if (targetFlat > this.highUntil[key]!) {
      this.highUntil[key] = targetFlat
      // A key not cached is in no queue (remove took it out); inserting it files it.
      if (this.indexed?.cached[key]) this.refresh(key)
    }
  }
  onUnwanted(key: number): void {
    this.highUntil[key] = -1
    this.refresh(key)
  }
  /** Done at this layer and not protected beyond it: low priority from now on. */
  onDone(key: number): void {
    if (this.highUntil[key]! <= this.flat) {
      this.highUntil[key] = -1
      this.refresh(key)
    }
  }
  private used(key: number, group: number): void {
    const until = this.flat + this.recent
    if (until > this.highUntil[key]!) this.highUntil[key] = until
    const x = this.indexed
    if (!x) return
    // A new stamp: the key is the most recent now (and high, so refresh takes it out of evictable).
    x.stamp[key] = this.clock++
    x.groupOf[key] = group
    x.cached[key] = 1
    this.refresh(key)
  }
  insert(key: number, group: number): void {
    this.list.pushNewest(key, group)
    this.used(key, group)
  }
  touch(key: number, group: number): void {
    if (this.indexed?.held[key]) {
      this.unhold(key)
      this.list.pushNewest(key, group)
    } else this.list.moveToNewest(key, group)
    this.used(key, group)
  }
  remove(key: number): void {
    if (this.indexed?.held[key]) this.unhold(key)
    else this.list.unlink(key)
    if (!this.indexed) return
    this.indexed.cached[key] = 0
    this.refresh(key)
  }
  private unhold(key: number): void {
    this.indexed!.held[key] = 0
    this.indexed!.ready.delete(key)
  }
  replace(victim: number, key: number, group: number): void {
    this.remove(victim)
    this.insert(key, group)
  }
  victim(group: number, blocked: Uint8Array, demand: boolean): number {
    const list = this.list
    const x = this.indexed
    if (x) {
      const v = x.evictable.min(group)
      if (v >= 0 || !demand) return v
      // A demand load may take the least recent unblocked key, protected or not.
      const r = x.ready.min(group)
      if (r >= 0) return r
      const s = list.numKeys + group
      for (let k = list.prev[s]!; k !== s; k = list.prev[s]!) {
        if (blocked[k] === 0) return k
        list.unlink(k)
        x.held[k] = 1
      }
      return -1
    } else {
      const s = list.numKeys + group
      for (let k = list.prev[s]!; k !== s; k = list.prev[k]!)
        if (blocked[k] === 0 && this.highUntil[k]! < this.flat) return k
    }
    return demand ? list.oldestUnblocked(group, blocked) : -1
  }

  /** Put a key in the queues and buckets its state calls for (indexed mode). */
  private refresh(key: number): void {
    const x = this.indexed
    if (!x) return
    this.refreshEvictable(key)
    // Guarded keys have highUntil ≥ flat, as the buckets need.
    if (x.cached[key] === 1 && this.highUntil[key]! >= this.flat) x.protectedUntil.set(key, this.highUntil[key]!)
    else x.protectedUntil.delete(key)
  }

  /** The evictable queue's part of refresh. */
  private refreshEvictable(key: number): void {
    const x = this.indexed!
    const evictable = x.cached[key] === 1 && x.blocked[key] === 0 && this.highUntil[key]! < this.flat
    sync(x.evictable, key, evictable, x.groupOf[key]!, x.stamp[key]!)
  }
}

/** Make `key`'s membership of the queue `want`, under `stamp`. */
function sync(queue: StampQueue, key: number, want: boolean, group: number, stamp: number): void {
  if (want && queue.has(key) && queue.stampOf(key) !== stamp) queue.delete(key)
  if (want && !queue.has(key)) queue.add(key, group, stamp)
  else if (!want && queue.has(key)) queue.delete(key)
}

interface Indexed {
  /** Cached, unblocked, low keys by recency stamp: the victims, least recent first. */
  evictable: StampQueue
  /** Keys parked out of the recency list (blocked when a fallback scan met them). */
  held: Uint8Array
  /** Parked keys that are unblocked again, by recency stamp: the fallback's first choice. */
  ready: StampQueue
  /** Cached, high keys by the layer their protection ends. */
  protectedUntil: DeadlineBuckets
  stamp: Float64Array
  groupOf: Int32Array
  cached: Uint8Array
  blocked: Uint8Array
}
