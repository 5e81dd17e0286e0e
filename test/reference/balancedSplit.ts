// FROZEN REFERENCE (test only): the token scheduler's split before its distances were summed over
// set-bit lists, with the swap search of its time. It is the oracle of test/policies.test.ts; never
// edit it to follow policies/.
import { improveBySwaps } from "./improveBySwaps.ts"

const popcount = (x: number) => {
  x -= (x >>> 1) & 0x55555555
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333)
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24
}

/**
 * Split items (paths) into groups of sizes ⌈n/2⌉ and ⌊n/2⌋ minimizing activated pairs.
 * Returns a 0/1 group per item; never worse than [0,…,0,1,…,1].
 */
export function balancedSplit(paths: Uint32Array[], words: number): Uint8Array {
  const n = paths.length
  const half = Math.ceil(n / 2)
  const naive = Uint8Array.from({ length: n }, (_, i) => (i < half ? 0 : 1))
  if (n <= 2) return naive
  const D = new Int32Array(n * n)
  for (let i = 0; i < n; i++)
    for (let j = i + 1; j < n; j++) {
      let d = 0
      for (let w = 0; w < words; w++) d += popcount(paths[i]![w]! ^ paths[j]![w]!)
      D[i * n + j] = D[j * n + i] = d
    }
  // Balanced 2-medoid clustering, seeded with the two most distant paths.
  let c0 = 0,
    c1 = 1
  for (let i = 0; i < n; i++)
    for (let j = i + 1; j < n; j++)
      if (D[i * n + j]! > D[c0 * n + c1]!) {
        c0 = i
        c1 = j
      }
  let group = new Uint8Array(n)
  const order = Array.from({ length: n }, (_, i) => i)
  for (let iter = 0; iter < 10; iter++) {
    order.sort((a, b) => D[a * n + c0]! - D[a * n + c1]! - (D[b * n + c0]! - D[b * n + c1]!) || a - b)
    const next = new Uint8Array(n)
    for (let r = 0; r < n; r++) next[order[r]!] = r < half ? 0 : 1
    const same = iter > 0 && next.every((g, i) => g === group[i])
    group = next
    if (same) break
    const medoid = (g: number) => {
      let best = -1,
        bestSum = Infinity
      for (let i = 0; i < n; i++)
        if (group[i] === g) {
          let sum = 0
          for (let j = 0; j < n; j++) if (group[j] === g) sum += D[i * n + j]!
          if (sum < bestSum) {
            bestSum = sum
            best = i
          }
        }
      return best
    }
    c0 = medoid(0)
    c1 = medoid(1)
  }
  improveBySwaps(paths, words, group)
  return cost(paths, words, group) < cost(paths, words, naive) ? group : naive
}

/** Activated pairs of a split. */
function cost(paths: Uint32Array[], words: number, group: Uint8Array): number {
  let total = 0
  for (let w = 0; w < words; w++) {
    let a = 0,
      b = 0
    for (let i = 0; i < paths.length; i++)
      if (group[i] === 0) a |= paths[i]![w]!
      else b |= paths[i]![w]!
    total += popcount(a) + popcount(b)
  }
  return total
}
