import { EntryQueue } from "./entryQueue.ts"
import { KeyHeap } from "./keyHeap.ts"

/**
 * Keys per group ordered by a stamp unique to each key (its recency), for a set that mostly grows
 * at the new end, as an LRU's evictable experts do: a key added with a stamp above the last one
 * appended to its group's FIFO goes there, any other to a heap. Removing a FIFO key only marks its
 * entry dead (skipped when it reaches the front). The least stamp is the FIFO's first live entry or
 * the heap's top. O(1) for in-order adds and for removals from the FIFO; O(log n) for the rest.
 */
export class StampQueue {
  private readonly fifos: EntryQueue[]
  private readonly heap: KeyHeap
  /** Each key's stamp while it is in the queue; NaN when it is not. */
  private readonly stamp: Float64Array
  private readonly inHeap: Uint8Array
  /** Stamp of the last entry appended to each group's FIFO. */
  private readonly lastAppended: Float64Array
  constructor(numKeys: number, capacities: ArrayLike<number>) {
    this.fifos = Array.from(capacities, () => new EntryQueue())
    this.heap = new KeyHeap(numKeys, capacities)
    this.stamp = new Float64Array(numKeys).fill(Number.NaN)
    this.inHeap = new Uint8Array(numKeys)
    this.lastAppended = new Float64Array(capacities.length).fill(Number.NEGATIVE_INFINITY)
  }

  has(key: number): boolean {
    return !Number.isNaN(this.stamp[key]!)
  }

  stampOf(key: number): number {
    return this.stamp[key]!
  }

  add(key: number, group: number, stamp: number): void {
    this.stamp[key] = stamp
    if (stamp > this.lastAppended[group]!) {
      this.lastAppended[group] = stamp
      this.fifos[group]!.push(key, 0, stamp)
    } else {
      this.heap.insert(key, group, stamp, 0)
      this.inHeap[key] = 1
    }
  }

  delete(key: number): void {
    if (this.inHeap[key]) {
      this.heap.remove(key)
      this.inHeap[key] = 0
    }
    this.stamp[key] = Number.NaN
  }

  /** The group's key with the least stamp, or -1. */
  min(group: number): number {
    const q = this.fifos[group]!
    // An entry is live while its key is in the queue, not in the heap, under the entry's stamp.
    while (q.head < q.tail) {
      const k = q.keys[q.head]!
      if (this.stamp[k] === q.times[q.head] && this.inHeap[k] === 0) break
      q.head++
    }
    const f = q.head < q.tail ? q.keys[q.head]! : -1
    const h = this.heap.min(group)
    if (f < 0 || h < 0) return f < 0 ? h : f
    return this.stamp[f]! < this.stamp[h]! ? f : h
  }
}
