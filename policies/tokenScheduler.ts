/**
 * EF-H's token scheduler (arXiv 2410.17954 §3.3, Eq. 2). Steps are first formed by continuous
 * batching with 2B slots (two batches' worth); each such unit is split into two batches of
 * (nearly) equal size that run one after the other, chosen to minimize the activated
 * (layer, expert) pairs |OR(A)| + |OR(B)| over the tokens' routing paths. A request's tokens in a
 * unit (one decode token, or its prefill chunk) stay together, so order within a request holds.
 *
 * Method: balanced 2-medoid clustering on Hamming distance between paths (the paper's
 * similarity clustering; seeds are the two most distant paths, not random), then improving
 * swaps judged on the exact objective; if the result is not better than the unscheduled split
 * (first half of the slots / second half), the unscheduled split is kept, so scheduling never
 * increases activated pairs.
 *
 * Paths are what is known before the unit runs: `paths=prev` (default) uses each request's
 * previous token's route (EF-H's predictor stand-in, untrained), `paths=recorded` the trace's
 * external predictions, `paths=oracle` the true routes (the scheduler's bound).
 */
import { buildSteps } from "../traces/batching.ts"
import { GAP, type Trace } from "../traces/trace.ts"
import { InputError, UsageError } from "../base/errors.ts"

export interface Schedule {
  readonly offsets: Int32Array
  readonly tokens: Int32Array
  /** Output step where each unit starts. */
  readonly unitStart: Int32Array
  readonly decisions: number
  /** Wall-clock ns of each decision (measured; varies between runs). */
  readonly cpuNs: number[]
  readonly activatedBefore: number
  readonly activatedAfter: number
}

export type PathSource = "prev" | "recorded" | "oracle"

export function parseSchedulerArgs(
  args: ReadonlyArray<string>,
  spec: string
): { paths: PathSource; charge: number | "measured" } {
  let paths: PathSource = "prev"
  let charge: number | "measured" = 0
  for (const arg of args) {
    const [k, v] = arg.split("=")
    if (k === "paths" && (v === "prev" || v === "recorded" || v === "oracle")) paths = v
    else if (k === "charge" && v === "measured") charge = "measured"
    else if (k === "charge" && v !== undefined && Number.isFinite(Number(v)) && Number(v) >= 0) charge = Number(v)
    else
      throw new UsageError(
        `policy spec '${spec}': scheduler=ts takes paths=prev|recorded|oracle and charge=NS|measured, not '${arg}'`
      )
  }
  return { paths, charge }
}

/** Bitset of a token's path (layer · E + expert) from the chosen source. */
function pathOf(t: Trace, token: number, source: PathSource, out: Uint32Array): void {
  const { layers: L, experts: E, topK: K } = t.model
  out.fill(0)
  const set = (l: number, e: number) => {
    const b = l * E + e
    out[b >>> 5]! |= 1 << (b & 31)
  }
  for (let l = 0; l < L; l++) {
    if (source === "oracle") {
      for (let k = 0; k < K; k++) {
        const e = t.experts[(token * L + l) * K + k]!
        if (e !== GAP) set(l, e)
      }
    } else if (source === "recorded") {
      const P = t.predictionDepth
      for (let j = 0; j < P; j++) {
        const e = t.predicted![(token * L + l) * P + j]!
        if (e !== GAP) set(l, e)
      }
    } else if (token > 0 && t.request[token - 1] === t.request[token]) {
      for (let k = 0; k < K; k++) {
        const e = t.experts[((token - 1) * L + l) * K + k]!
        if (e !== GAP) set(l, e)
      }
    }
  }
}

/** The set bits of a bitset, ascending. */
function setBits(p: Uint32Array, words: number): Int32Array {
  const list: number[] = []
  for (let w = 0; w < words; w++) for (let x = p[w]!; x !== 0; x &= x - 1) list.push(w * 32 + (31 - Math.clz32(x & -x)))
  return Int32Array.from(list)
}

const popcount = (x: number) => {
  x -= (x >>> 1) & 0x55555555
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333)
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24
}

/** Activated pairs of one group: |OR of its members' paths|. */
function activated(paths: Uint32Array[], members: number[], words: number): number {
  let n = 0
  for (let w = 0; w < words; w++) {
    let or = 0
    for (const m of members) or |= paths[m]![w]!
    n += popcount(or)
  }
  return n
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
  // Hamming distances |i| + |j| − 2|i ∩ j|, the intersection over i's set bits (a path sets a few
  // hundred of L·E bits: fewer tests than popcounts of every word).
  const bits = paths.map((p) => setBits(p, words))
  const D = new Int32Array(n * n)
  for (let i = 0; i < n; i++) {
    const bi = bits[i]!
    for (let j = i + 1; j < n; j++) {
      const pj = paths[j]!
      let both = 0
      for (let c = 0; c < bi.length; c++) both += (pj[bi[c]! >>> 5]! >>> (bi[c]! & 31)) & 1
      D[i * n + j] = D[j * n + i] = bi.length + bits[j]!.length - 2 * both
    }
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
  improveBySwaps(paths, words, group, bits)
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

/**
 * First-improvement swaps on the exact objective. With per-bit member counts cA, cB, swapping i ∈ A
 * and j ∈ B changes the activated pairs by
 *   −|i ∩ {cA=1}| + |i ∩ {cB=0}| − |j ∩ {cB=1}| + |j ∩ {cA=0}|
 *   + |i ∩ j ∩ {cA=1}| + |i ∩ j ∩ {cB=1}|
 * (bits in both paths stay put). A path sets a few hundred of L·E bits, so the terms are summed
 * over each path's list of set bits: j's own terms once per pass and swap, only the last (i ∩ j)
 * per pair, over those bits of i that count 1 somewhere.
 */
export function improveBySwaps(
  paths: Uint32Array[],
  words: number,
  group: Uint8Array,
  bitsOf = paths.map((p) => setBits(p, words))
): void {
  const n = paths.length
  if (swapScratch.cA.length < words * 32) swapScratch = newScratch(words * 32)
  const { cA, cB, crit, critW } = swapScratch
  for (let i = 0; i < n; i++) {
    const c = group[i] === 0 ? cA : cB,
      bi = bitsOf[i]!
    for (let k = 0; k < bi.length; k++) c[bi[k]!]!++
  }
  /** j's own terms (j ∈ B): bits it would add to A, less the bits only it holds in B. */
  const ownB = new Int32Array(n)
  const refreshOwn = () => {
    for (let j = 0; j < n; j++) {
      if (group[j] !== 1) continue
      const bj = bitsOf[j]!
      let d = 0
      for (let k = 0; k < bj.length; k++) d += (cA[bj[k]!] === 0 ? 1 : 0) - (cB[bj[k]!] === 1 ? 1 : 0)
      ownB[j] = d
    }
  }
  refreshOwn()
  for (let pass = 0, improved = true; pass < 5 && improved; pass++) {
    improved = false
    for (let i = 0; i < n; i++) {
      if (group[i] !== 0) continue
      const bi = bitsOf[i]!
      let outI = 0,
        nc = 0
      for (let k = 0; k < bi.length; k++) {
        const b = bi[k]!
        outI += (cB[b] === 0 ? 1 : 0) - (cA[b] === 1 ? 1 : 0)
        const wgt = (cA[b] === 1 ? 1 : 0) + (cB[b] === 1 ? 1 : 0)
        if (wgt > 0) {
          crit[nc] = b
          critW[nc++] = wgt
        }
      }
      for (let j = 0; j < n; j++) {
        if (group[j] !== 1) continue
        const pj = paths[j]!
        let delta = outI + ownB[j]!
        for (let c = 0; c < nc; c++) {
          const b = crit[c]!
          if ((pj[b >>> 5]! >>> (b & 31)) & 1) delta += critW[c]!
        }
        if (delta >= 0) continue
        for (const b of bi) {
          cA[b]!--
          cB[b]!++
        }
        for (const b of bitsOf[j]!) {
          cA[b]!++
          cB[b]!--
        }
        group[i] = 1
        group[j] = 0
        refreshOwn()
        improved = true
        break
      }
    }
  }
  // Counts back to zero for the next call (only the bits these paths set were touched).
  for (const bi of bitsOf)
    for (let k = 0; k < bi.length; k++) {
      cA[bi[k]!] = 0
      cB[bi[k]!] = 0
    }
}

/** improveBySwaps' per-bit counts (all zero between calls) and its list of critical bits. */
const newScratch = (bits: number) => ({
  cA: new Int32Array(bits),
  cB: new Int32Array(bits),
  crit: new Int32Array(bits),
  critW: new Int32Array(bits)
})
let swapScratch = newScratch(0)

export function scheduleTokens(t: Trace, batch: number, source: PathSource, traceName: string): Schedule {
  if (source === "recorded" && !t.predicted)
    throw new InputError(
      traceName,
      "header",
      "columns.predicted",
      "scheduler=ts:paths=recorded needs route predictions recorded in the trace"
    )
  const { layers: L, experts: E } = t.model
  const words = Math.ceil((L * E) / 32)
  const units = buildSteps(t, 2 * batch)
  const offsets: number[] = [0],
    tokens: number[] = [],
    unitStart: number[] = [],
    cpuNs: number[] = []
  let before = 0,
    after = 0
  const truth = new Uint32Array(words)
  for (let u = 0; u + 1 < units.offsets.length; u++) {
    unitStart.push(offsets.length - 1)
    const unitTokens = Array.from(units.tokens.subarray(units.offsets[u]!, units.offsets[u + 1]!))
    const items: number[][] = []
    for (const tok of unitTokens) {
      const last = items[items.length - 1]
      if (last && t.request[last[0]!] === t.request[tok]) last.push(tok)
      else items.push([tok])
    }
    const started = performance.now()
    const paths = items.map((toks) => {
      const p = new Uint32Array(words),
        one = new Uint32Array(words)
      for (const tok of toks) {
        pathOf(t, tok, source, one)
        for (let w = 0; w < words; w++) p[w]! |= one[w]!
      }
      return p
    })
    const group = balancedSplit(paths, words)
    cpuNs.push(Math.round((performance.now() - started) * 1e6))
    // Activated pairs under the true routes, before and after, for the result.
    const truePaths = items.map((toks) => {
      const p = new Uint32Array(words)
      for (const tok of toks) {
        pathOf(t, tok, "oracle", truth)
        for (let w = 0; w < words; w++) p[w]! |= truth[w]!
      }
      return p
    })
    const trueActivated = (g: Uint8Array | null) => {
      let total = 0
      for (const v of [0, 1]) {
        const m = items.map((_, i) => i).filter((i) => (g ? g[i] : i < Math.ceil(items.length / 2) ? 0 : 1) === v)
        total += activated(truePaths, m, words)
      }
      return total
    }
    before += trueActivated(null)
    after += trueActivated(group)
    for (const v of [0, 1]) {
      const part = items.filter((_, i) => group[i] === v).flat()
      if (part.length === 0) continue
      tokens.push(...part)
      offsets.push(tokens.length)
    }
  }
  return {
    offsets: Int32Array.from(offsets),
    tokens: Int32Array.from(tokens),
    unitStart: Int32Array.from(unitStart),
    decisions: cpuNs.length,
    cpuNs,
    activatedBefore: before,
    activatedAfter: after
  }
}
