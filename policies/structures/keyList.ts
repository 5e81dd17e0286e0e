/**
 * Intrusive doubly linked lists over typed arrays, one list per group (a group is the whole cache,
 * or one layer when slots are partitioned). Index `numKeys + g` is group g's sentinel:
 * next(sentinel) is the newest key, prev(sentinel) the oldest.
 */
export class KeyList {
  readonly prev: Int32Array
  readonly next: Int32Array
  constructor(
    readonly numKeys: number,
    readonly numGroups: number
  ) {
    this.prev = new Int32Array(numKeys + numGroups).fill(-1)
    this.next = new Int32Array(numKeys + numGroups).fill(-1)
    for (let g = 0; g < numGroups; g++) {
      const s = numKeys + g
      this.prev[s] = s
      this.next[s] = s
    }
  }

  pushNewest(key: number, group: number): void {
    const s = this.numKeys + group
    const first = this.next[s]!
    this.prev[key] = s
    this.next[key] = first
    this.prev[first] = key
    this.next[s] = key
  }

  unlink(key: number): void {
    const p = this.prev[key]!,
      n = this.next[key]!
    this.next[p] = n
    this.prev[n] = p
    this.prev[key] = -1
    this.next[key] = -1
  }

  moveToNewest(key: number, group: number): void {
    this.unlink(key)
    this.pushNewest(key, group)
  }

  /** Oldest key of the group not blocked, or -1. */
  oldestUnblocked(group: number, blocked: Uint8Array): number {
    const s = this.numKeys + group
    for (let k = this.prev[s]!; k !== s; k = this.prev[k]!) if (blocked[k] === 0) return k
    return -1
  }
}
