// FROZEN REFERENCE (test only): the token scheduler's swap search before it summed over set-bit
// lists. It is the oracle of test/policies.test.ts; never edit it to follow policies/.
/**
 * improveBySwaps as it was before it summed over set-bit lists (policies/tokenScheduler.ts): word
 * by word, with bitset masks of the bits counted 0 and 1 in each group. Kept to prove the new one
 * makes the same swaps.
 */
const popcount = (x: number) => {
  x -= (x >>> 1) & 0x55555555
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333)
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24
}

export function improveBySwaps(paths: Uint32Array[], words: number, group: Uint8Array): void {
  const n = paths.length,
    bits = words * 32
  const cnt = [new Int32Array(bits), new Int32Array(bits)]
  for (let i = 0; i < n; i++)
    for (let b = 0; b < bits; b++) if ((paths[i]![b >>> 5]! >>> (b & 31)) & 1) cnt[group[i]!]![b]!++
  const one = [new Uint32Array(words), new Uint32Array(words)],
    zero = [new Uint32Array(words), new Uint32Array(words)]
  const masks = () => {
    for (const g of [0, 1]) {
      one[g]!.fill(0)
      zero[g]!.fill(0)
      for (let b = 0; b < bits; b++) {
        const c = cnt[g]![b]!
        if (c === 1) one[g]![b >>> 5]! |= 1 << (b & 31)
        if (c === 0) zero[g]![b >>> 5]! |= 1 << (b & 31)
      }
    }
  }
  masks()
  for (let pass = 0, improved = true; pass < 5 && improved; pass++) {
    improved = false
    for (let i = 0; i < n; i++) {
      if (group[i] !== 0) continue
      const pi = paths[i]!
      let outI = 0
      for (let w = 0; w < words; w++) outI += popcount(pi[w]! & zero[1]![w]!) - popcount(pi[w]! & one[0]![w]!)
      for (let j = 0; j < n; j++) {
        if (group[j] !== 1) continue
        const pj = paths[j]!
        let delta = outI
        for (let w = 0; w < words; w++) {
          const both = pi[w]! & pj[w]!
          delta +=
            popcount(pj[w]! & zero[0]![w]!) -
            popcount(pj[w]! & one[1]![w]!) +
            popcount(both & one[0]![w]!) +
            popcount(both & one[1]![w]!)
        }
        if (delta >= 0) continue
        for (let b = 0; b < bits; b++) {
          const xi = (pi[b >>> 5]! >>> (b & 31)) & 1,
            xj = (pj[b >>> 5]! >>> (b & 31)) & 1
          cnt[0]![b]! += xj - xi
          cnt[1]![b]! += xi - xj
        }
        group[i] = 1
        group[j] = 0
        masks()
        improved = true
        break
      }
    }
  }
}
