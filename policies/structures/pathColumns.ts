/**
 * A token-scheduler unit's paths by column: each (layer, expert) bit that some item's path sets,
 * as the mask of the items that set it (⌈n/32⌉ words). Everything the scheduler weighs is a sum
 * over columns: a path's size, two paths' overlap, a split's activated pairs (a column counts once
 * for each group it meets). A column that one item alone sets counts 1 under every split, so it
 * is only tallied; with one word per mask, equal masks merge into one column with a weight. A
 * unit of 8 decode tokens sets about 3,700 bits but shares only a few hundred masks, so a swap is
 * judged over those instead of every bit of both paths.
 *
 * Built into scratch that grows and is reused: a run builds thousands (`begin`, `add`, `finish`).
 */
export class PathColumns {
  /** Items, and 32-bit words per mask. */
  n = 0
  words = 1
  /** Shared columns (met by 2+ items): masks, `words` each, and how many bits have that mask. */
  masks = new Int32Array(64)
  weights = new Int32Array(64)
  count = 0
  /** Bits each item sets (its path's size). */
  sizes = new Int32Array(0)
  /** Bits that a single item sets, over all items: 1 each under any split. */
  singles = 0
  /** The shared columns each item meets: item i's at itemCols[itemStart[i] .. itemStart[i + 1]). */
  itemStart = new Int32Array(1)
  itemCols = new Int32Array(64)

  /** Build scratch: each bit's mask (zero again after each build), the bits set, a hash of masks. */
  private maskOf = new Int32Array(0)
  private touched = new Int32Array(64)
  private nTouched = 0
  private table = new Int32Array(64)

  /** Start a build of `n` items over bits [0, universe). */
  begin(n: number, universe: number): void {
    this.n = n
    this.words = Math.max(1, Math.ceil(n / 32))
    if (this.maskOf.length < universe * this.words) this.maskOf = new Int32Array(universe * this.words)
    if (this.touched.length < universe) this.touched = new Int32Array(universe)
    this.nTouched = 0
  }

  /** Item `item` sets bit `bit` (repeats are harmless). */
  add(item: number, bit: number): void {
    const W = this.words,
      at = bit * W
    let fresh = this.maskOf[at] === 0
    for (let w = 1; w < W && fresh; w++) fresh = this.maskOf[at + w] === 0
    if (fresh) this.touched[this.nTouched++] = bit
    this.maskOf[at + (item >>> 5)]! |= 1 << (item & 31)
  }

  finish(): this {
    const { n, words: W, maskOf, touched, nTouched } = this
    this.sizes = this.sizes.length >= n ? this.sizes.fill(0, 0, n) : new Int32Array(n)
    this.singles = 0
    while (this.masks.length < nTouched * W) this.masks = grown(this.masks)
    while (this.weights.length < Math.max(1, nTouched)) this.weights = grown(this.weights)
    // One word per mask: equal masks share a column, found through an open-addressing table.
    const merge = W === 1
    let size = 64
    while (merge && size < 2 * nTouched) size *= 2
    if (merge) this.table = this.table.length >= size ? this.table.fill(-1, 0, size) : new Int32Array(size).fill(-1)
    const table = this.table,
      slotMask = size - 1
    let count = 0
    for (let t = 0; t < nTouched; t++) {
      const at = touched[t]! * W
      if (merge) {
        const m = maskOf[at]!
        maskOf[at] = 0
        if ((m & (m - 1)) === 0) {
          this.singles++
          this.sizes[31 - Math.clz32(m)]!++
          continue
        }
        let h = Math.imul(m, 0x9e3779b1) & slotMask
        while (table[h] !== -1 && this.masks[table[h]!] !== m) h = (h + 1) & slotMask
        if (table[h] === -1) {
          table[h] = count
          this.masks[count] = m
          this.weights[count++] = 1
        } else this.weights[table[h]!]!++
        continue
      }
      let members = 0
      for (let w = 0; w < W; w++) members += popcount(maskOf[at + w]!)
      if (members === 1) {
        this.singles++
        for (let w = 0; w < W; w++) if (maskOf[at + w] !== 0) this.sizes[w * 32 + 31 - Math.clz32(maskOf[at + w]!)]!++
      } else {
        for (let w = 0; w < W; w++) this.masks[count * W + w] = maskOf[at + w]!
        this.weights[count++] = 1
      }
      maskOf.fill(0, at, at + W)
    }
    this.count = count
    // Sizes, and each item's columns.
    if (this.itemStart.length < n + 1) this.itemStart = new Int32Array(n + 1)
    const start = this.itemStart.fill(0, 0, n + 1)
    this.forEachMember((c, i) => {
      this.sizes[i]! += this.weights[c]!
      start[i + 1]!++
    })
    for (let i = 0; i < n; i++) start[i + 1]! += start[i]!
    while (this.itemCols.length < start[n]!) this.itemCols = grown(this.itemCols)
    const fill = Int32Array.from(start.subarray(0, n))
    this.forEachMember((c, i) => {
      this.itemCols[fill[i]!++] = c
    })
    return this
  }

  /** `fn(column, item)` for each item of each shared column, columns in order. */
  forEachMember(fn: (column: number, item: number) => void): void {
    const W = this.words
    for (let c = 0; c < this.count; c++)
      for (let w = 0; w < W; w++)
        for (let x = this.masks[c * W + w]!; x !== 0; x &= x - 1) fn(c, w * 32 + 31 - Math.clz32(x & -x))
  }

  /** Does column c meet the items of mask `set` (`words` words)? 1 or 0. */
  meets(c: number, set: Int32Array): number {
    const W = this.words
    for (let w = 0; w < W; w++) if ((this.masks[c * W + w]! & set[w]!) !== 0) return 1
    return 0
  }

  /** Activated pairs of a split, A and B given as item masks: every column, once per group it meets. */
  cost(a: Int32Array, b: Int32Array): number {
    let total = this.singles
    for (let c = 0; c < this.count; c++) total += this.weights[c]! * (this.meets(c, a) + this.meets(c, b))
    return total
  }

  /** Bits both items i and j set, for every pair: an n × n matrix (diagonal: the sizes). */
  overlaps(): Int32Array {
    const n = this.n
    const both = new Int32Array(n * n)
    const members = new Int32Array(n)
    let m = 0,
      last = -1
    const flush = () => {
      const w = this.weights[last]!
      for (let x = 0; x < m; x++) for (let y = x + 1; y < m; y++) both[members[x]! * n + members[y]!]! += w
    }
    this.forEachMember((c, i) => {
      if (c !== last) {
        if (last >= 0) flush()
        last = c
        m = 0
      }
      members[m++] = i
    })
    if (last >= 0) flush()
    for (let i = 0; i < n; i++) {
      both[i * n + i] = this.sizes[i]!
      for (let j = i + 1; j < n; j++) both[j * n + i] = both[i * n + j]!
    }
    return both
  }
}

/** The masks of a split's two groups (item i in A when group[i] is 0). */
export function groupMasks(group: ArrayLike<number>, words: number): { a: Int32Array; b: Int32Array } {
  const a = new Int32Array(words),
    b = new Int32Array(words)
  for (let i = 0; i < group.length; i++) (group[i] === 0 ? a : b)[i >>> 5]! |= 1 << (i & 31)
  return { a, b }
}

const popcount = (x: number): number => {
  x -= (x >>> 1) & 0x55555555
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333)
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24
}

function grown(a: Int32Array): Int32Array<ArrayBuffer> {
  const b = new Int32Array(a.length * 2)
  b.set(a)
  return b
}
