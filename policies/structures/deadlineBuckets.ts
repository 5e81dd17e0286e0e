/**
 * Keys by an integer deadline (a flat layer index), expired as the replay moves on: a ring of
 * buckets, each a doubly linked list, so setting, moving and deleting a key are O(1) and expiring
 * visits only the buckets passed. A deadline farther ahead than the ring shares a bucket with a
 * nearer one and is skipped until it is due.
 */
export class DeadlineBuckets {
  private readonly head: Int32Array
  private readonly tail: Int32Array
  private readonly next: Int32Array
  private readonly prev: Int32Array
  private readonly due: Float64Array
  private readonly mask: number
  /** Every deadline below this has been expired. */
  private swept = Number.NEGATIVE_INFINITY
  constructor(numKeys: number, buckets = 4096) {
    this.mask = buckets - 1
    this.head = new Int32Array(buckets).fill(-1)
    this.tail = new Int32Array(buckets).fill(-1)
    this.next = new Int32Array(numKeys).fill(-1)
    this.prev = new Int32Array(numKeys).fill(-1)
    this.due = new Float64Array(numKeys).fill(Number.NaN)
  }

  /** Give `key` the deadline `deadline` (an integer), adding it if absent. */
  set(key: number, deadline: number): void {
    if (this.due[key] === deadline) return
    this.delete(key)
    // At the bucket's tail: keys expire in the order their deadlines were set.
    const b = deadline & this.mask
    const t = this.tail[b]!
    this.due[key] = deadline
    this.prev[key] = t
    this.next[key] = -1
    if (t >= 0) this.next[t] = key
    else this.head[b] = key
    this.tail[b] = key
  }

  delete(key: number): void {
    const d = this.due[key]!
    if (Number.isNaN(d)) return // absent
    const n = this.next[key]!,
      p = this.prev[key]!
    if (p >= 0) this.next[p] = n
    else this.head[d & this.mask] = n
    if (n >= 0) this.prev[n] = p
    else this.tail[d & this.mask] = p
    this.due[key] = Number.NaN
  }

  /** Take out every key whose deadline is below `flat` and call `fn` on each, bucket by bucket in set order. */
  expire(flat: number, fn: (key: number) => void): void {
    // Buckets passed since the last call; a ring's worth at most (older deadlines share them).
    for (let u = Math.max(this.swept, flat - this.mask - 1); u < flat; u++) {
      for (let k = this.head[u & this.mask]!; k >= 0; ) {
        const n = this.next[k]!
        if (this.due[k]! < flat) {
          this.delete(k)
          fn(k)
        }
        k = n
      }
    }
    if (flat > this.swept) this.swept = flat
  }
}
