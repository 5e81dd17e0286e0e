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
 * Indexed mode (when the caller reports every (un)blocking, as timed replays do) is lazy: an
 * access only moves its key to the new end of the recency list, as plain LRU does. A victim
 * search walks the list from the old end; a key it meets blocked or protected is parked (taken
 * out of the list) and filed by its state: unblocked and low in one queue by recency stamp (the
 * victims), unblocked in another (a demand load's fallback), unblocked and protected also in
 * buckets by the layer its protection ends. Parked keys are older than any key still in the list
 * (they left from its old end; a use returns a key to the new end), so the least recent evictable
 * key is the first queue's minimum if it has one, else the first evictable key of the walk: the
 * same victim as the plain scan. Only parked keys pay for the bookkeeping, and at EF-A's
 * one-step protection they are few (the old end holds keys used steps ago); EF-H's path
 * prefetch protects nearly the whole cache, and each key is parked at most once per use.
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
          parked: new Uint8Array(n),
          low: new StampQueue(n, ctx.maxKeys),
          unblocked: new StampQueue(n, ctx.maxKeys),
          protectedUntil: new DeadlineBuckets(n),
          stamp: new Float64Array(n),
          groupOf: new Int32Array(n),
          blocked: new Uint8Array(n)
        }
      : null
  }
  onLayer(flat: number): void {
    this.flat = flat
    // Parked keys whose protection ended before this layer: low now.
    this.indexed?.protectedUntil.expire(flat, this.expired)
  }
  private readonly expired = (key: number): void => this.file(key)
  block(key: number): void {
    const x = this.indexed
    if (!x) return
    x.blocked[key] = 1
    if (x.parked[key]) this.file(key)
  }
  unblock(key: number): void {
    const x = this.indexed
    if (!x) return
    x.blocked[key] = 0
    if (x.parked[key]) this.file(key)
  }
  onPredicted(key: number, targetFlat: number): void {
    if (targetFlat > this.highUntil[key]!) {
      this.highUntil[key] = targetFlat
      if (this.indexed?.parked[key]) this.file(key)
    }
  }
  onUnwanted(key: number): void {
    this.highUntil[key] = -1
    if (this.indexed?.parked[key]) this.file(key)
  }
  /** Done at this layer and not protected beyond it: low priority from now on. */
  onDone(key: number): void {
    if (this.highUntil[key]! <= this.flat) {
      this.highUntil[key] = -1
      if (this.indexed?.parked[key]) this.file(key)
    }
  }
  private used(key: number): void {
    const until = this.flat + this.recent
    if (until > this.highUntil[key]!) this.highUntil[key] = until
    const x = this.indexed
    if (x) x.stamp[key] = this.clock++
  }
  insert(key: number, group: number): void {
    this.list.pushNewest(key, group)
    if (this.indexed) this.indexed.groupOf[key] = group
    this.used(key)
  }
  touch(key: number, group: number): void {
    if (this.indexed?.parked[key]) {
      this.unpark(key)
      this.list.pushNewest(key, group)
    } else this.list.moveToNewest(key, group)
    this.used(key)
  }
  remove(key: number): void {
    if (this.indexed?.parked[key]) this.unpark(key)
    else this.list.unlink(key)
  }
  replace(victim: number, key: number, group: number): void {
    this.remove(victim)
    this.insert(key, group)
  }
  victim(group: number, blocked: Uint8Array, demand: boolean): number {
    const list = this.list
    const s = list.numKeys + group
    const x = this.indexed
    if (x) {
      const v = x.low.min(group)
      if (v >= 0) return v
      for (let k = list.prev[s]!; k !== s; k = list.prev[s]!) {
        if (blocked[k] === 0 && this.highUntil[k]! < this.flat) return k
        list.unlink(k)
        x.parked[k] = PARKED
        this.file(k)
      }
      // A demand load may take the least recent unblocked key, protected or not.
      return demand ? x.unblocked.min(group) : -1
    }
    for (let k = list.prev[s]!; k !== s; k = list.prev[k]!)
      if (blocked[k] === 0 && this.highUntil[k]! < this.flat) return k
    return demand ? list.oldestUnblocked(group, blocked) : -1
  }

  /**
   * File a parked key in the queues and buckets its state calls for. A blocked key is in none:
   * its protection matters only once it unblocks, when it is filed again.
   */
  private file(key: number): void {
    const x = this.indexed!
    const low = this.highUntil[key]! < this.flat
    const had = x.parked[key]!
    const want = PARKED | (x.blocked[key] === 0 ? (low ? IN_UNBLOCKED | IN_LOW : IN_UNBLOCKED | IN_BUCKETS) : 0)
    x.parked[key] = want
    const change = want ^ had
    if (change & IN_UNBLOCKED) {
      if (want & IN_UNBLOCKED) x.unblocked.add(key, x.groupOf[key]!, x.stamp[key]!)
      else x.unblocked.delete(key)
    }
    if (change & IN_LOW) {
      if (want & IN_LOW) x.low.add(key, x.groupOf[key]!, x.stamp[key]!)
      else x.low.delete(key)
    }
    // Protected keys have highUntil ≥ flat, as the buckets need.
    if (want & IN_BUCKETS) x.protectedUntil.set(key, this.highUntil[key]!)
    else if (had & IN_BUCKETS) x.protectedUntil.delete(key)
  }

  private unpark(key: number): void {
    const x = this.indexed!
    const had = x.parked[key]!
    if (had & IN_LOW) x.low.delete(key)
    if (had & IN_UNBLOCKED) x.unblocked.delete(key)
    if (had & IN_BUCKETS) x.protectedUntil.delete(key)
    x.parked[key] = 0
  }
}

/** A key's bits in `parked`: out of the recency list, and where it is filed meanwhile. */
const PARKED = 1,
  IN_UNBLOCKED = 2,
  IN_LOW = 4,
  IN_BUCKETS = 8

interface Indexed {
  /**
   * 0 for a key in the recency list; for one parked out of it (met blocked or protected by a
   * victim search), PARKED and the bits of where it is filed.
   */
  parked: Uint8Array
  /** Parked, unblocked, low keys by recency stamp: the victims, least recent first. */
  low: StampQueue
  /** Parked, unblocked keys by recency stamp: a demand load's fallback. */
  unblocked: StampQueue
  /** Parked, unblocked, protected keys by the layer their protection ends. */
  protectedUntil: DeadlineBuckets
  stamp: Float64Array
  groupOf: Int32Array
  blocked: Uint8Array
}
