// FROZEN REFERENCE (test only): topByScore as a bounded min-heap, before its histogram selection.
// It is the oracle of test/properties.test.ts; never edit it to follow policies/.

/** Heap scratch for topByHeap (grown on demand; the replay is single-threaded). */
let heap = new Int32Array(64)

/**
 * Top-n experts by score (ties: lower id first; only scores > 0), written to out best first.
 * A bounded min-heap whose root is the worst kept expert: O(E log n) instead of n passes over E.
 * "a worse than b" is (score a < score b) or (equal scores and a > b), written out inline.
 */
export function topByHeap(scores: Float64Array, n: number, out: Uint16Array): number {
  const E = scores.length
  const cap = Math.min(n, E)
  if (cap <= 0) return 0
  if (heap.length < cap) heap = new Int32Array(cap * 2)
  const h = heap
  let size = 0
  for (let e = 0; e < E; e++) {
    const se = scores[e]!
    if (!(se > 0)) continue
    if (size < cap) {
      let i = size++
      while (i > 0) {
        const p = (i - 1) >> 1
        const hp = h[p]!,
          sp = scores[hp]!
        if (!(se < sp || (se === sp && e > hp))) break
        h[i] = hp
        i = p
      }
      h[i] = e
    } else {
      const root = h[0]!,
        sr = scores[root]!
      if (sr < se || (sr === se && root > e)) siftDown(scores, h, size, e)
    }
  }
  // Pop the worst first into the back of out: out[0] is the best.
  for (let k = size; k > 0; k--) {
    out[k - 1] = h[0]!
    if (k > 1) siftDown(scores, h, k - 1, h[k - 1]!)
  }
  return size
}

/** Put `e` at the root of the heap h[0, size) and sift it down (the worse child rises). */
function siftDown(scores: Float64Array, h: Int32Array, size: number, e: number): void {
  const se = scores[e]!
  let i = 0
  for (;;) {
    const l = 2 * i + 1
    if (l >= size) break
    let c = l
    const r = l + 1
    if (r < size) {
      const hl = h[l]!,
        hr = h[r]!,
        sl = scores[hl]!,
        sr = scores[hr]!
      if (sr < sl || (sr === sl && hr > hl)) c = r
    }
    const hc = h[c]!,
      sc = scores[hc]!
    if (!(sc < se || (sc === se && hc > e))) break
    h[i] = hc
    i = c
  }
  h[i] = e
}
