import type { EvictionContext, EvictionPolicy } from "./evictionPolicy.ts"

/**
 * Least frequently used, counting accesses while resident (a re-loaded expert starts at 1, as in
 * libCacheSim's LFU); ties go to the least recently used, then to the lower key.
 *
 * O(1) per access (the classic LFU layout): per group, a list of frequency nodes in increasing
 * frequency, each holding its keys oldest first. A touch moves a key to the next node's tail; an
 * insert goes to frequency 1's tail; each steps back past the few keys of the same layer that
 * sort after it, so the order is the one a (frequency, recency, key) heap gives.
 */
export class LfuPolicy implements EvictionPolicy {
  readonly name = "lfu"
  readonly needsFuture = false
  // Keys: their node, neighbours in the node's list, last access cursor.
  private readonly nodeOf: Int32Array
  private readonly prevKey: Int32Array
  private readonly nextKey: Int32Array
  private readonly at: Float64Array
  // Nodes (a pool, recycled through `free`): frequency, key list ends, neighbours by frequency.
  private freq: Float64Array
  private head: Int32Array
  private tail: Int32Array
  private prevNode: Int32Array
  private nextNode: Int32Array
  private free: number[] = []
  private used = 0
  /** Each group's lowest-frequency node, -1 when the group is empty. */
  private readonly first: Int32Array
  constructor(ctx: EvictionContext) {
    const n = ctx.numKeys
    this.nodeOf = new Int32Array(n).fill(-1)
    this.prevKey = new Int32Array(n)
    this.nextKey = new Int32Array(n)
    this.at = new Float64Array(n)
    const m = 64
    this.freq = new Float64Array(m)
    this.head = new Int32Array(m)
    this.tail = new Int32Array(m)
    this.prevNode = new Int32Array(m)
    this.nextNode = new Int32Array(m)
    this.first = new Int32Array(ctx.capacities.length).fill(-1)
  }

  insert(key: number, group: number, now: number): void {
    let node = this.first[group]!
    if (node < 0 || this.freq[node] !== 1) node = this.newNode(1, group, -1, node)
    this.at[key] = now
    this.append(key, node)
  }
  touch(key: number, group: number, now: number): void {
    const node = this.nodeOf[key]!
    let next = this.nextNode[node]!
    if (next < 0 || this.freq[next] !== this.freq[node]! + 1)
      next = this.newNode(this.freq[node]! + 1, group, node, next)
    this.unlink(key, group)
    this.at[key] = now
    this.append(key, next)
  }
  remove(key: number, group: number): void {
    if (this.nodeOf[key]! >= 0) this.unlink(key, group)
  }
  replace(victim: number, key: number, group: number, now: number): void {
    this.remove(victim, group)
    this.insert(key, group, now)
  }
  victim(group: number, blocked: Uint8Array): number {
    for (let node = this.first[group]!; node >= 0; node = this.nextNode[node]!)
      for (let k = this.head[node]!; k >= 0; k = this.nextKey[k]!) if (blocked[k] === 0) return k
    return -1
  }

  /**
   * Put `key` in `node`'s list in (cursor, key) order, stepping back from the tail: at most past
   * the current layer's keys (one layer's inserts share its cursor; its touches may run reordered).
   */
  private append(key: number, node: number): void {
    const now = this.at[key]!
    let after = this.tail[node]!
    while (after >= 0 && (this.at[after]! > now || (this.at[after] === now && after > key)))
      after = this.prevKey[after]!
    const before = after >= 0 ? this.nextKey[after]! : this.head[node]!
    this.prevKey[key] = after
    this.nextKey[key] = before
    if (after >= 0) this.nextKey[after] = key
    else this.head[node] = key
    if (before >= 0) this.prevKey[before] = key
    else this.tail[node] = key
    this.nodeOf[key] = node
  }

  /** Take `key` out of its node, dropping the node when it empties. */
  private unlink(key: number, group: number): void {
    const node = this.nodeOf[key]!
    const p = this.prevKey[key]!,
      n = this.nextKey[key]!
    if (p >= 0) this.nextKey[p] = n
    else this.head[node] = n
    if (n >= 0) this.prevKey[n] = p
    else this.tail[node] = p
    this.nodeOf[key] = -1
    if (this.head[node]! >= 0) return
    const pn = this.prevNode[node]!,
      nn = this.nextNode[node]!
    if (pn >= 0) this.nextNode[pn] = nn
    else this.first[group] = nn
    if (nn >= 0) this.prevNode[nn] = pn
    this.free.push(node)
  }

  /** A new, empty node of frequency f between nodes `prev` and `next` (either may be -1). */
  private newNode(f: number, group: number, prev: number, next: number): number {
    let node = this.free.pop()
    if (node === undefined) {
      if (this.used === this.freq.length) this.grow()
      node = this.used++
    }
    this.freq[node] = f
    this.head[node] = -1
    this.tail[node] = -1
    this.prevNode[node] = prev
    this.nextNode[node] = next
    if (prev >= 0) this.nextNode[prev] = node
    else this.first[group] = node
    if (next >= 0) this.prevNode[next] = node
    return node
  }

  private grow(): void {
    const m = this.freq.length * 2
    const f = new Float64Array(m)
    f.set(this.freq)
    this.freq = f
    for (const name of ["head", "tail", "prevNode", "nextNode"] as const) {
      const a = new Int32Array(m)
      a.set(this[name])
      this[name] = a
    }
  }
}
