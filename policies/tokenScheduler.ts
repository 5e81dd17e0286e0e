/**
 * EF-H's token scheduler (arXiv 2410.17954 §3.3, Eq. 2). Steps are first formed by continuous
 * batching with 2B slots (two batches' worth); each such unit is split into two batches of
 * (nearly) equal size that run one after the other, chosen to minimize the activated
 * (layer, expert) pairs |OR(A)| + |OR(B)| over the tokens' routing paths. A request's tokens in a
 * unit (one decode token, or its prefill chunk) stay together, so order within a request holds.
 * A unit of at most B requests runs as one batch, unscheduled: any split only adds activated
 * pairs (|OR(A)| + |OR(B)| ≥ |OR(A ∪ B)|), so one batch is Eq. 2's optimum, and EF-H's code
 * forms N / batch_size clusters, one here. (Split in two, such a unit ran at half the batch, and
 * its two halves took turns evicting each other's experts.)
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
import { groupMasks, PathColumns } from "./structures/pathColumns.ts"

export interface Schedule {
  readonly offsets: Int32Array
  readonly tokens: Int32Array
  /** Output step where each unit starts. */
  readonly unitStart: Int32Array
  /** Units split in two (those of more than B requests): the scheduler's decisions. */
  readonly decisions: number
  /** Output step where each decision's unit starts. */
  readonly decisionStart: Int32Array
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

/** Item `item` of `cols` gets the bits (layer · E + expert) of `token`'s path from the chosen source. */
function addPath(cols: PathColumns, item: number, t: Trace, token: number, source: PathSource): void {
  const { layers: L, experts: E, topK: K } = t.model
  // prev: the request's previous token's route (none for its first token).
  const from = source === "prev" ? (token > 0 && t.request[token - 1] === t.request[token] ? token - 1 : -1) : token
  if (from < 0) return
  const ids = source === "recorded" ? t.predicted! : t.experts
  const per = source === "recorded" ? t.predictionDepth : K
  for (let l = 0; l < L; l++)
    for (let j = (from * L + l) * per, end = j + per; j < end; j++) {
      const e = ids[j]!
      if (e !== GAP) cols.add(item, l * E + e)
    }
}

/** Scratch of balancedSplit and improveBySwaps over bitset paths. */
const bitsetColumns = new PathColumns()

/** The columns of bitset paths (`words` words each). */
function columnsOf(paths: Uint32Array[], words: number): PathColumns {
  const into = bitsetColumns
  into.begin(paths.length, words * 32)
  for (let i = 0; i < paths.length; i++)
    for (let w = 0; w < words; w++)
      for (let x = paths[i]![w]!; x !== 0; x &= x - 1) into.add(i, w * 32 + 31 - Math.clz32(x & -x))
  return into.finish()
}

/**
 * Split items (paths) into groups of sizes ⌈n/2⌉ and ⌊n/2⌋ minimizing activated pairs.
 * Returns a 0/1 group per item; never worse than [0,…,0,1,…,1].
 */
export function balancedSplit(paths: Uint32Array[], words: number): Uint8Array {
  return splitColumns(columnsOf(paths, words))
}

/** balancedSplit over the items' columns. */
function splitColumns(cols: PathColumns): Uint8Array {
  const n = cols.n
  const half = Math.ceil(n / 2)
  const naive = Uint8Array.from({ length: n }, (_, i) => (i < half ? 0 : 1))
  if (n <= 2) return naive
  // Hamming distances |i| + |j| − 2|i ∩ j|.
  const both = cols.overlaps()
  const D = new Int32Array(n * n)
  for (let i = 0; i < n; i++)
    for (let j = i + 1; j < n; j++)
      D[i * n + j] = D[j * n + i] = both[i * n + i]! + both[j * n + j]! - 2 * both[i * n + j]!
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
  improveSplit(cols, group)
  return splitCost(cols, group) < splitCost(cols, naive) ? group : naive
}

/** Activated pairs of a split. */
function splitCost(cols: PathColumns, group: Uint8Array): number {
  const { a, b } = groupMasks(group, cols.words)
  return cols.cost(a, b)
}

/** First-improvement swaps on the exact objective (improveSplit over bitset paths). */
export function improveBySwaps(paths: Uint32Array[], words: number, group: Uint8Array): void {
  improveSplit(columnsOf(paths, words), group)
}

/**
 * First-improvement swaps on the exact objective: for each i ∈ A in turn, the first j ∈ B whose
 * swap lowers the activated pairs; at most 5 passes, until one makes no swap. With each column's
 * members counted per group (a, b), moving i from A to B changes a column of i's (not j's) by
 * [a ≥ 2] − [b ≥ 1], moving j the other way one of j's (not i's) by [b ≥ 2] − [a ≥ 1], and a
 * column of both not at all. So a swap is i's own sum plus j's own sum, plus [a = 1] + [b = 1]
 * over the columns i and j share: the own sums once per pass and swap, and per pair only i's
 * columns where a or b is 1 (few where paths overlap densely).
 */
function improveSplit(cols: PathColumns, group: Uint8Array): void {
  const { n, count, words: W, masks, itemStart, itemCols, weights } = cols
  const inA = new Int32Array(count),
    inB = new Int32Array(count)
  cols.forEachMember((c, i) => (group[i] === 0 ? inA : inB)[c]!++)
  const leaveA = (c: number) => (inA[c]! >= 2 ? 1 : 0) - (inB[c]! >= 1 ? 1 : 0)
  const leaveB = (c: number) => (inB[c]! >= 2 ? 1 : 0) - (inA[c]! >= 1 ? 1 : 0)
  /** Each j ∈ B's own sum. */
  const ownB = new Int32Array(n)
  const refreshOwn = () => {
    for (let j = 0; j < n; j++) {
      if (group[j] !== 1) continue
      let d = 0
      for (let k = itemStart[j]!; k < itemStart[j + 1]!; k++) d += weights[itemCols[k]!]! * leaveB(itemCols[k]!)
      ownB[j] = d
    }
  }
  refreshOwn()
  /** i's columns that count in a pair term (a = 1 or b = 1), as mask offsets, and their terms. */
  const crit = new Int32Array(count),
    critW = new Int32Array(count)
  for (let pass = 0, improved = true; pass < 5 && improved; pass++) {
    improved = false
    for (let i = 0; i < n; i++) {
      if (group[i] !== 0) continue
      const i0 = itemStart[i]!,
        i1 = itemStart[i + 1]!
      let ownI = 0,
        nc = 0
      for (let k = i0; k < i1; k++) {
        const c = itemCols[k]!
        ownI += weights[c]! * leaveA(c)
        const term = (inA[c] === 1 ? 1 : 0) + (inB[c] === 1 ? 1 : 0)
        if (term > 0) {
          crit[nc] = c * W
          critW[nc++] = weights[c]! * term
        }
      }
      for (let j = 0; j < n; j++) {
        if (group[j] !== 1) continue
        let delta = ownI + ownB[j]!
        const word = j >>> 5,
          bit = j & 31
        for (let k = 0; k < nc; k++) if ((masks[crit[k]! + word]! >>> bit) & 1) delta += critW[k]!
        if (delta >= 0) continue
        for (let k = i0; k < i1; k++) {
          inA[itemCols[k]!]!--
          inB[itemCols[k]!]!++
        }
        for (let k = itemStart[j]!; k < itemStart[j + 1]!; k++) {
          inA[itemCols[k]!]!++
          inB[itemCols[k]!]!--
        }
        group[i] = 1
        group[j] = 0
        refreshOwn()
        improved = true
        break
      }
    }
  }
}

/** Scratch of scheduleTokens: a unit's known paths. */
const unitColumns = new PathColumns()

/** Scratch of activatedPairs: the mark of the group that last activated each (layer, expert). */
let pairMark = new Int32Array(0),
  lastMark = 0

/**
 * Activated (layer, expert) pairs of a split under the true routes: for each group, the distinct
 * pairs its items' tokens route to, summed over both (what `splitCost` counts, without columns).
 */
function activatedPairs(t: Trace, items: ReadonlyArray<ReadonlyArray<number>>, group: Uint8Array): number {
  const { layers: L, experts: E, topK: K } = t.model
  if (pairMark.length !== L * E) {
    pairMark = new Int32Array(L * E)
    lastMark = 0
  }
  let total = 0
  for (const g of [0, 1]) {
    const mark = ++lastMark
    for (let i = 0; i < items.length; i++) {
      if (group[i] !== g) continue
      for (const tok of items[i]!)
        for (let j = tok * L * K, l = 0; l < L; l++)
          for (let k = 0; k < K; k++, j++) {
            const e = t.experts[j]!
            if (e === GAP || pairMark[l * E + e] === mark) continue
            pairMark[l * E + e] = mark
            total++
          }
    }
  }
  return total
}

export function scheduleTokens(t: Trace, batch: number, source: PathSource, traceName: string): Schedule {
  checkPathSource(t, source, traceName)
  const units = buildSteps(t, 2 * batch)
  return scheduleUnits(t, batch, source, units, 0, units.offsets.length - 1)
}

/** Paths from `source` exist in `t` (recorded ones need the trace's predictions). */
export function checkPathSource(t: Trace, source: PathSource, traceName: string): void {
  if (source === "recorded" && !t.predicted)
    throw new InputError(
      traceName,
      "header",
      "columns.predicted",
      "scheduler=ts:paths=recorded needs route predictions recorded in the trace"
    )
}

/**
 * The schedule of units [from, to) of `units` (continuous batching at 2B slots), alone: units are
 * independent, so parts scheduled apart (on two threads) join into the whole's schedule.
 */
export function scheduleUnits(
  t: Trace,
  batch: number,
  source: PathSource,
  units: { offsets: Int32Array; tokens: Int32Array },
  from: number,
  to: number
): Schedule {
  const { layers: L, experts: E } = t.model
  const offsets: number[] = [0],
    tokens: number[] = [],
    unitStart: number[] = [],
    decisionStart: number[] = [],
    cpuNs: number[] = []
  let before = 0,
    after = 0
  for (let u = from; u < to; u++) {
    unitStart.push(offsets.length - 1)
    const unitTokens = Array.from(units.tokens.subarray(units.offsets[u]!, units.offsets[u + 1]!))
    const items: number[][] = []
    for (const tok of unitTokens) {
      const last = items[items.length - 1]
      if (last && t.request[last[0]!] === t.request[tok]) last.push(tok)
      else items.push([tok])
    }
    if (items.length <= batch) {
      // One batch: nothing to decide, and the same batch with or without the scheduler.
      const pairs = activatedPairs(t, items, new Uint8Array(items.length))
      before += pairs
      after += pairs
      tokens.push(...unitTokens)
      offsets.push(tokens.length)
      continue
    }
    decisionStart.push(offsets.length - 1)
    const started = performance.now()
    unitColumns.begin(items.length, L * E)
    for (let i = 0; i < items.length; i++) for (const tok of items[i]!) addPath(unitColumns, i, t, tok, source)
    const group = splitColumns(unitColumns.finish())
    cpuNs.push(Math.round((performance.now() - started) * 1e6))
    // Activated pairs under the true routes, before and after, for the result.
    before += activatedPairs(
      t,
      items,
      Uint8Array.from(items, (_, i) => (i < Math.ceil(items.length / 2) ? 0 : 1))
    )
    after += activatedPairs(t, items, group)
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
    decisionStart: Int32Array.from(decisionStart),
    cpuNs,
    activatedBefore: before,
    activatedAfter: after
  }
}

/** Schedules of consecutive unit ranges, joined: the schedule of their union. */
export function joinSchedules(parts: ReadonlyArray<Schedule>): Schedule {
  const offsets: number[] = [0],
    unitStart: number[] = [],
    decisionStart: number[] = [],
    cpuNs: number[] = []
  let before = 0,
    after = 0,
    tokens = 0
  for (const p of parts) {
    const steps = offsets.length - 1
    for (let s = 1; s < p.offsets.length; s++) offsets.push(tokens + p.offsets[s]!)
    for (const u of p.unitStart) unitStart.push(steps + u)
    for (const d of p.decisionStart) decisionStart.push(steps + d)
    cpuNs.push(...p.cpuNs)
    before += p.activatedBefore
    after += p.activatedAfter
    tokens += p.tokens.length
  }
  const all = new Int32Array(tokens)
  let at = 0
  for (const p of parts) {
    all.set(p.tokens, at)
    at += p.tokens.length
  }
  return {
    offsets: Int32Array.from(offsets),
    tokens: all,
    unitStart: Int32Array.from(unitStart),
    decisions: cpuNs.length,
    decisionStart: Int32Array.from(decisionStart),
    cpuNs,
    activatedBefore: before,
    activatedAfter: after
  }
}
