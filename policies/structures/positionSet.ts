/**
 * A set of integers in [0, n): add, delete, the largest at most p and the smallest at least p,
 * each in O(log_32 n) word operations. A bitmap, and above it a summary per level (a bit set
 * when any of the 32 bits below it is), up to a single word.
 */
export class PositionSet {
  /** levels[0]: one bit per position; levels[k + 1]: one bit per word of levels[k]. */
  private readonly levels: Int32Array[] = []
  constructor(readonly size: number) {
    let words = Math.max(1, Math.ceil(size / 32))
    for (;;) {
      this.levels.push(new Int32Array(words))
      if (words === 1) break
      words = Math.ceil(words / 32)
    }
  }

  has(p: number): boolean {
    return ((this.levels[0]![p >>> 5]! >>> (p & 31)) & 1) === 1
  }

  add(p: number): void {
    for (const w of this.levels) {
      const i = p >>> 5
      const before = w[i]!
      w[i] = before | (1 << (p & 31))
      if (before !== 0) return // the levels above already know this word is non-empty
      p = i
    }
  }

  delete(p: number): void {
    for (const w of this.levels) {
      const i = p >>> 5
      w[i]! &= ~(1 << (p & 31))
      if (w[i] !== 0) return
      p = i
    }
  }

  /** The largest member ≤ p, or -1. */
  floor(p: number): number {
    const levels = this.levels
    let k = 0
    for (;;) {
      if (p < 0) return -1
      const bits = levels[k]![p >>> 5]! & (-1 >>> (31 - (p & 31)))
      if (bits !== 0) {
        p = (p & ~31) | (31 - Math.clz32(bits))
        break
      }
      if (k === levels.length - 1) return -1
      p = (p >>> 5) - 1 // the words before this one, one level up
      k++
    }
    for (; k > 0; k--) p = p * 32 + 31 - Math.clz32(levels[k - 1]![p]!)
    return p
  }

  /** The smallest member ≥ p, or -1. */
  ceil(p: number): number {
    const levels = this.levels
    let k = 0
    for (;;) {
      if (p >= levels[k]!.length * 32) return -1
      const bits = levels[k]![p >>> 5]! & (-1 << (p & 31))
      if (bits !== 0) {
        p = (p & ~31) | lowestBit(bits)
        break
      }
      if (k === levels.length - 1) return -1
      p = (p >>> 5) + 1 // the words after this one, one level up
      k++
    }
    for (; k > 0; k--) p = p * 32 + lowestBit(levels[k - 1]![p]!)
    return p
  }
}

/** Index of the lowest set bit of a non-zero word. */
function lowestBit(w: number): number {
  return 31 - Math.clz32(w & -w)
}
