/**
 * An indexed binary min-heap of keys per group (a group is the whole cache, or one layer when
 * slots are partitioned), ordered by (primary, secondary) ascending, then by key, so ties break
 * the same way on every run. Priorities are stored in heap order next to the keys: a sift reads
 * contiguous memory instead of jumping through key-indexed arrays.
 */
class GroupHeap {
  keys: Int32Array
  p1: Float64Array
  p2: Float64Array
  size = 0
  constructor(capacity: number) {
    const n = Math.max(1, capacity)
    this.keys = new Int32Array(n)
    this.p1 = new Float64Array(n)
    this.p2 = new Float64Array(n)
  }
  grow(): void {
    const n = this.keys.length * 2
    const k = new Int32Array(n),
      a = new Float64Array(n),
      b = new Float64Array(n)
    k.set(this.keys)
    a.set(this.p1)
    b.set(this.p2)
    this.keys = k
    this.p1 = a
    this.p2 = b
  }
}

export class KeyHeap {
  private readonly heaps: GroupHeap[]
  /** Position of each key in its group's heap, -1 when absent. */
  private readonly pos: Int32Array
  private readonly groupOf: Int32Array

  /** `capacities`: initial room per group (heaps grow past it). */
  constructor(numKeys: number, capacities: ArrayLike<number>) {
    this.heaps = Array.from(capacities, (c: number) => new GroupHeap(c))
    this.pos = new Int32Array(numKeys).fill(-1)
    this.groupOf = new Int32Array(numKeys)
  }

  insert(key: number, group: number, primary: number, secondary: number): void {
    const h = this.heaps[group]!
    if (h.size === h.keys.length) h.grow()
    const i = h.size++
    this.groupOf[key] = group
    this.place(h, i, key, primary, secondary)
    this.siftUp(h, i)
  }

  remove(key: number): void {
    const i = this.pos[key]!
    if (i < 0) return
    const h = this.heaps[this.groupOf[key]!]!
    const last = --h.size
    this.pos[key] = -1
    if (i === last) return
    this.place(h, i, h.keys[last]!, h.p1[last]!, h.p2[last]!)
    if (!this.siftUp(h, i)) this.siftDown(h, i)
  }

  /** Put `key` where `old` was (same group) and restore the order: one sift instead of two. */
  replace(old: number, key: number, primary: number, secondary: number): void {
    const i = this.pos[old]!
    const h = this.heaps[this.groupOf[old]!]!
    this.pos[old] = -1
    this.groupOf[key] = this.groupOf[old]!
    this.place(h, i, key, primary, secondary)
    if (!this.siftUp(h, i)) this.siftDown(h, i)
  }

  /** Change a key's priority and restore the heap order. */
  update(key: number, primary: number, secondary: number): void {
    const i = this.pos[key]!
    const h = this.heaps[this.groupOf[key]!]!
    h.p1[i] = primary
    h.p2[i] = secondary
    if (!this.siftUp(h, i)) this.siftDown(h, i)
  }

  /** The group's smallest key, or -1 when it is empty. */
  min(group: number): number {
    const h = this.heaps[group]!
    return h.size > 0 ? h.keys[0]! : -1
  }

  has(key: number): boolean {
    return this.pos[key]! >= 0
  }

  /** The primary priority a present key holds. */
  primaryOf(key: number): number {
    return this.heaps[this.groupOf[key]!]!.p1[this.pos[key]!]!
  }

  /** Smallest key of the group that is not blocked, or -1; the heap is left unchanged. */
  minUnblocked(group: number, blocked: Uint8Array): number {
    const h = this.heaps[group]!
    if (h.size === 0) return -1
    if (blocked[h.keys[0]!] === 0) return h.keys[0]!
    // Best-first walk from the root: only children of blocked nodes can hold the answer. Each
    // node is pushed at most once, so a stack of the heap's size suffices.
    if (this.stack.length < h.size) this.stack = new Int32Array(h.keys.length)
    const stack = this.stack
    let best = -1
    let top = 0
    stack[top++] = 0
    while (top > 0) {
      const i = stack[--top]!
      if (best >= 0 && !this.less(h, i, best)) continue
      if (blocked[h.keys[i]!] === 0) {
        best = i
        continue
      }
      const c = 2 * i + 1
      if (c < h.size) stack[top++] = c
      if (c + 1 < h.size) stack[top++] = c + 1
    }
    return best < 0 ? -1 : h.keys[best]!
  }
  /** minUnblocked's walk (one at a time: the replay is single-threaded). */
  private stack = new Int32Array(16)

  private less(h: GroupHeap, i: number, j: number): boolean {
    const a = h.p1[i]!,
      b = h.p1[j]!
    if (a !== b) return a < b
    const c = h.p2[i]!,
      d = h.p2[j]!
    if (c !== d) return c < d
    return h.keys[i]! < h.keys[j]!
  }

  private place(h: GroupHeap, i: number, key: number, p1: number, p2: number): void {
    h.keys[i] = key
    h.p1[i] = p1
    h.p2[i] = p2
    this.pos[key] = i
  }

  /** Move the entry at i up to its place, shifting parents down into the hole. Returns whether it moved. */
  private siftUp(h: GroupHeap, i: number): boolean {
    const key = h.keys[i]!,
      a = h.p1[i]!,
      b = h.p2[i]!
    const start = i
    while (i > 0) {
      const p = (i - 1) >> 1
      const pa = h.p1[p]!
      if (pa < a || (pa === a && (h.p2[p]! < b || (h.p2[p] === b && h.keys[p]! < key)))) break
      this.place(h, i, h.keys[p]!, pa, h.p2[p]!)
      i = p
    }
    if (i !== start) this.place(h, i, key, a, b)
    return i !== start
  }

  private siftDown(h: GroupHeap, i: number): void {
    const key = h.keys[i]!,
      a = h.p1[i]!,
      b = h.p2[i]!
    const start = i
    const n = h.size
    for (;;) {
      let c = 2 * i + 1
      if (c >= n) break
      if (c + 1 < n && this.less(h, c + 1, c)) c++
      const ca = h.p1[c]!
      if (ca > a || (ca === a && (h.p2[c]! > b || (h.p2[c] === b && h.keys[c]! > key)))) break
      this.place(h, i, h.keys[c]!, ca, h.p2[c]!)
      i = c
    }
    if (i !== start) this.place(h, i, key, a, b)
  }
}
