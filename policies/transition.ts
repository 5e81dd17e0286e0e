import {
  actualSet,
  defaultTop,
  scoringPredictor,
  topByScore,
  type Predictor,
  type PredictorContext
} from "./predictor.ts"
import { SharedBlocks } from "./structures/sharedBlocks.ts"

/**
 * Cross-layer transition tables: counts of (expert e at layer l → expert e' at layer l + d) over
 * each fold's training steps, one table per distance d ≤ maxDistance, built a layer's block at a
 * time on first use (a policy whose targets are mostly farther than the tables reach queries a
 * few blocks of some distances, not whole tables). Each table is L·E² counts, so distances are
 * bounded; farther targets are scored by the target layer's popularity in the same training
 * steps (the table's marginal, where the dependence has faded).
 */
export class TransitionTables {
  /**
   * By (fold · (maxDistance + 1) + d) · L + l: layer l's E × E block, integer counts packed two
   * to a float64, target 2j as lane · 2^26 and 2j + 1 as the rest, so one add sums two counts.
   * Exact while every sum of a lane stays below 2^26 (see rowSum) and so the whole below 2^53.
   */
  private readonly blocks: Array<Float64Array | undefined> = []
  /** Largest count in each block: bounds how many rows a packed sum may add. */
  private readonly maxCount: number[] = []
  /** Unpacked counts of the block being built. */
  private scratch: Uint32Array | null = null
  private readonly mark: Uint8Array
  /** Packed entries per row. */
  private readonly half: number
  constructor(
    private readonly ctx: PredictorContext,
    readonly maxDistance = 4,
    /** Largest packed lane sum allowed (2^26; tests lower it to run the unpacked path). */
    private readonly laneLimit = LANE
  ) {
    this.mark = new Uint8Array(ctx.stream.experts)
    this.half = (ctx.stream.experts + 1) >> 1
    const store = ctx.sharedBlocks
    if (
      store &&
      (store.folds !== ctx.training.folds.length ||
        store.distances !== maxDistance + 1 ||
        store.layers !== ctx.stream.layers ||
        store.blockLength !== ctx.stream.experts * this.half)
    )
      throw new Error("transition tables: the shared blocks are shaped for other tables")
  }

  /** A store for tables of this context (default reach): to share with another thread's. */
  static sharedStore(ctx: PredictorContext, maxDistance = 4): SharedBlocks {
    const E = ctx.stream.experts
    return new SharedBlocks(ctx.training.folds.length, maxDistance + 1, ctx.stream.layers, E * ((E + 1) >> 1))
  }

  private block(fold: number, d: number, l: number): Float64Array {
    const id = (fold * (this.maxDistance + 1) + d) * this.ctx.stream.layers + l
    const t = this.blocks[id]
    if (t) return t
    const store = this.ctx.sharedBlocks
    if (store) {
      const { block, max } = store.take(id, (out) => this.count(out, fold, d, l))
      this.blocks[id] = block
      this.maxCount[id] = max
      return block
    }
    const block = new Float64Array(this.ctx.stream.experts * this.half)
    this.blocks[id] = block
    this.maxCount[id] = this.count(block, fold, d, l)
    return block
  }

  /** Count block (fold, d, l) into `out` (packed, zeroed) and return its largest count. */
  private count(out: Float64Array, fold: number, d: number, l: number): number {
    const { layers: L, experts: E } = this.ctx.stream
    const H = this.half
    let steps = 0
    for (const { from, to } of this.ctx.training.folds[fold]!) steps += to - from
    // A count is at most the fold's steps: one lane must hold it.
    if (steps >= LANE) throw new Error(`transition tables: ${steps} training steps, at most ${LANE - 1} supported`)
    // Counted unpacked (one increment per pair is the hot loop), then packed.
    this.scratch ??= new Uint32Array(E * E)
    const counts = this.scratch.fill(0)
    if (l + d < L)
      for (const { stream: s, from, to } of this.ctx.training.folds[fold]!) {
        const { keys, offsets } = s
        const sL = s.layers
        for (let step = from; step < to; step++) {
          const src = step * sL + l,
            dst = src + d
          const d0 = offsets[dst]!,
            d1 = offsets[dst + 1]!
          // Eight source rows per pass over the targets: each target id is read once for all eight.
          const s1 = offsets[src + 1]!
          let i = offsets[src]!
          for (; i + 7 < s1; i += 8) {
            const r0 = keys[i]! * E,
              r1 = keys[i + 1]! * E,
              r2 = keys[i + 2]! * E,
              r3 = keys[i + 3]! * E,
              r4 = keys[i + 4]! * E,
              r5 = keys[i + 5]! * E,
              r6 = keys[i + 6]! * E,
              r7 = keys[i + 7]! * E
            for (let j = d0; j < d1; j++) {
              const k = keys[j]!
              counts[r0 + k]!++
              counts[r1 + k]!++
              counts[r2 + k]!++
              counts[r3 + k]!++
              counts[r4 + k]!++
              counts[r5 + k]!++
              counts[r6 + k]!++
              counts[r7 + k]!++
            }
          }
          for (; i < s1; i++) {
            const row = keys[i]! * E
            for (let j = d0; j < d1; j++) counts[row + keys[j]!]!++
          }
        }
      }
    let max = 0
    for (let r = 0; r < E; r++)
      for (let j = 0; j < H; j++) {
        const hi = counts[r * E + 2 * j]!,
          lo = 2 * j + 1 < E ? counts[r * E + 2 * j + 1]! : 0
        out[r * H + j] = hi * LANE + lo
        max = Math.max(max, hi, lo)
      }
    return max
  }

  /**
   * Count one block of the shared store (ctx.sharedBlocks) another thread is likely to want next,
   * for a thread that would otherwise wait for it. False when there is none.
   */
  help(): boolean {
    return this.ctx.sharedBlocks?.help((out, fold, d, l) => this.count(out, fold, d, l)) ?? false
  }

  /**
   * Build one block another fold will want: the counterpart of a block some fold has built (the
   * folds ask for the same distances and layers, one after the other). False when none is left.
   */
  prepare(): boolean {
    const per = (this.maxDistance + 1) * this.ctx.stream.layers
    const folds = this.ctx.training.folds.length
    for (let i = 0; i < per; i++) {
      let built = false
      for (let f = 0; f < folds && !built; f++) built = this.blocks[f * per + i] !== undefined
      if (!built) continue
      for (let f = 0; f < folds; f++)
        if (this.blocks[f * per + i] === undefined) {
          this.block(f, Math.floor(i / this.ctx.stream.layers), i % this.ctx.stream.layers)
          return true
        }
    }
    return false
  }

  /** The blocks a fold has built, to send to another thread's tables (adoptFold). */
  exportFold(fold: number): FoldBlocks {
    const per = (this.maxDistance + 1) * this.ctx.stream.layers
    const out: FoldBlocks = { ids: [], blocks: [], maxCount: [] }
    for (let id = fold * per; id < (fold + 1) * per; id++) {
      const t = this.blocks[id]
      if (!t) continue
      out.ids.push(id)
      out.blocks.push(t)
      out.maxCount.push(this.maxCount[id]!)
    }
    return out
  }

  /** Take blocks another thread built (exportFold) as if built here: the same counts. */
  adoptFold(b: FoldBlocks): void {
    b.ids.forEach((id, i) => {
      this.blocks[id] = b.blocks[i]!
      this.maxCount[id] = b.maxCount[i]!
    })
  }

  private readonly pops = new Map<number, Float64Array>()
  private popularity(fold: number): Float64Array {
    let p = this.pops.get(fold)
    if (!p) {
      const { layers: L, experts: E } = this.ctx.stream
      p = new Float64Array(L * E)
      for (const { stream: s, from, to } of this.ctx.training.folds[fold]!) {
        for (let cell = from * L; cell < to * L; cell++)
          for (let i = s.offsets[cell]!; i < s.offsets[cell + 1]!; i++) p[(cell % L) * E + s.keys[i]!]!++
      }
      this.pops.set(fold, p)
    }
    return p
  }

  /**
   * Σ over `src` of the rows (fromLayer, e) of the distance-d table: the raw transition counts
   * into layer fromLayer + d. Kept (packed) per (fold, fromLayer, d) and updated by the experts
   * that entered or left the set since the last query there (consecutive steps share most of
   * their experts); integer sums, so exactly what summing afresh gives. The returned array is
   * internal.
   */
  rowSum(fold: number, fromLayer: number, d: number, src: Uint16Array): Float64Array {
    const E = this.ctx.stream.experts,
      L = this.ctx.stream.layers,
      H = this.half
    const t = this.block(fold, d, fromLayer)
    const id = (fold * (this.maxDistance + 1) + d) * L + fromLayer
    let st = this.sums[id]
    if (!st) {
      st = {
        packed: new Float64Array(H),
        sum: new Float64Array(E),
        members: new Uint16Array(E),
        count: 0,
        isMember: new Uint8Array(E)
      }
      this.sums[id] = st
    }
    // No lane may reach 2^26: the sum of src.length counts each ≤ the block's largest.
    if (src.length * this.maxCount[id]! >= this.laneLimit) {
      this.forget(st)
      const sum = st.sum.fill(0)
      for (let i = 0; i < src.length; i++) unpack(t, src[i]! * H, sum, true)
      return sum
    }
    const inNew = this.mark
    for (let i = 0; i < src.length; i++) inNew[src[i]!] = 1
    let changes = 0
    for (let i = 0; i < st.count; i++) if (!inNew[st.members[i]!]) changes++
    for (let i = 0; i < src.length; i++) if (!st.isMember[src[i]!]) changes++
    const p = st.packed
    if (changes >= src.length) {
      // Mostly new: sum afresh, eight rows per pass (integers: any order is exact).
      p.fill(0)
      let i = 0
      for (; i + 7 < src.length; i += 8) {
        const r0 = src[i]! * H,
          r1 = src[i + 1]! * H,
          r2 = src[i + 2]! * H,
          r3 = src[i + 3]! * H,
          r4 = src[i + 4]! * H,
          r5 = src[i + 5]! * H,
          r6 = src[i + 6]! * H,
          r7 = src[i + 7]! * H
        for (let j = 0; j < H; j++)
          p[j]! += t[r0 + j]! + t[r1 + j]! + t[r2 + j]! + t[r3 + j]! + t[r4 + j]! + t[r5 + j]! + t[r6 + j]! + t[r7 + j]!
      }
      for (; i < src.length; i++) {
        const row = src[i]! * H
        for (let j = 0; j < H; j++) p[j]! += t[row + j]!
      }
    } else {
      for (let i = 0; i < st.count; i++) {
        const x = st.members[i]!
        if (inNew[x]) continue
        const row = x * H
        for (let j = 0; j < H; j++) p[j]! -= t[row + j]!
      }
      for (let i = 0; i < src.length; i++) {
        const x = src[i]!
        if (st.isMember[x]) continue
        const row = x * H
        for (let j = 0; j < H; j++) p[j]! += t[row + j]!
      }
    }
    this.forget(st)
    st.members.set(src)
    st.count = src.length
    for (let i = 0; i < src.length; i++) {
      st.isMember[src[i]!] = 1
      inNew[src[i]!] = 0
    }
    unpack(p, 0, st.sum, false)
    return st.sum
  }

  /** Drop a kept sum's members: the next query there sums afresh. */
  private forget(st: { members: Uint16Array; count: number; isMember: Uint8Array }): void {
    for (let i = 0; i < st.count; i++) st.isMember[st.members[i]!] = 0
    st.count = 0
  }

  private readonly sums: Array<
    { packed: Float64Array; sum: Float64Array; members: Uint16Array; count: number; isMember: Uint8Array } | undefined
  > = []

  /** The transition counts from the experts at (step, fromLayer) into `layer`, within maxDistance (internal). */
  countsInto(step: number, fromLayer: number, layer: number): Float64Array {
    const fold = this.ctx.training.foldOf(step)
    return this.rowSum(fold, fromLayer, layer - fromLayer, actualSet(this.ctx.stream, step, fromLayer))
  }

  /** Add the transition counts from the experts at (step, fromLayer) to `layer`, normalized, into `scores`. */
  addScores(step: number, fromLayer: number, layer: number, scores: Float64Array, weight = 1): void {
    const E = this.ctx.stream.experts
    const fold = this.ctx.training.foldOf(step)
    const d = layer - fromLayer
    // Counts: the target layer's popularity beyond the tables' reach, else the row sum.
    const far = d > this.maxDistance
    const counts = far
      ? this.popularity(fold)
      : this.rowSum(fold, fromLayer, d, actualSet(this.ctx.stream, step, fromLayer))
    const base = far ? layer * E : 0
    let sum = 0
    for (let e = 0; e < E; e++) sum += counts[base + e]!
    if (sum <= 0) return
    for (let e = 0; e < E; e++) scores[e]! += weight * (counts[base + e]! / sum)
  }
}

/** A fold's built blocks, by id (TransitionTables.exportFold). */
export interface FoldBlocks {
  ids: number[]
  blocks: Float64Array[]
  maxCount: number[]
}

/** One lane of a packed count: 2^26. */
const LANE = 2 ** 26

/** Add the packed row at t[at, at + ⌈E/2⌉) (lanes below 2^26) into out[0, E), or set out. */
function unpack(t: Float64Array, at: number, out: Float64Array, add: boolean): void {
  const E = out.length
  for (let j = 0; 2 * j < E; j++) {
    const x = t[at + j]!
    const hi = Math.floor(x / LANE)
    if (add) out[2 * j]! += hi
    else out[2 * j] = hi
    if (2 * j + 1 < E) {
      if (add) out[2 * j + 1]! += x - hi * LANE
      else out[2 * j + 1] = x - hi * LANE
    }
  }
}

/**
 * `predictor=transition`: a target in the current step is scored from the current layer's
 * experts through the table for its distance. A target in the next step (wrap-around) has no
 * same-token source yet: the current step's experts at the target layer are used instead (that
 * is, previous-token prediction).
 */
export function transitionPredictor(ctx: PredictorContext): Predictor {
  const E = ctx.stream.experts,
    L = ctx.stream.layers
  const tables = new TransitionTables(ctx)
  const scores = new Float64Array(E)
  const score = (step: number, layer: number, curStep: number, curLayer: number): void => {
    scores.fill(0)
    if (step !== curStep) {
      const set = actualSet(ctx.stream, curStep, layer)
      for (let i = 0; i < set.length; i++) scores[set[i]!] = 1
    } else tables.addScores(step, curLayer, layer, scores)
  }
  const scoring = scoringPredictor("transition", ctx, scores, score)
  // The picks without scoring where they are known: beyond the tables' reach a target's scores
  // are its layer's popularity in the fold (the same picks for every query of that fold, layer
  // and n, listed once); a wrap-around target's are equal on a set (its experts by id).
  const farPicks = new Map<number, Uint16Array>()
  const mark = new Uint8Array(E)
  return {
    ...scoring,
    // Row sums are exact integers whatever sum a table kept from its last query; the far picks are per fold and layer.
    orderFree: true,
    prepare: () => tables.prepare(),
    predict(step, layer, curStep, curLayer, out) {
      const n = defaultTop(ctx, step)
      if (step !== curStep) {
        const set = actualSet(ctx.stream, curStep, layer)
        for (let i = 0; i < set.length; i++) mark[set[i]!] = 1
        let m = 0
        for (let e = 0; e < E; e++)
          if (mark[e]) {
            mark[e] = 0
            if (m < n) out[m++] = e
          }
        return m
      }
      // Within reach the scores are counts / their sum: ranking the counts picks the same.
      if (layer - curLayer <= tables.maxDistance) return topByScore(tables.countsInto(step, curLayer, layer), n, out)
      const key = (ctx.training.foldOf(step) * L + layer) * (E + 1) + n
      let picks = farPicks.get(key)
      if (!picks) {
        picks = out.slice(0, scoring.predict(step, layer, curStep, curLayer, out))
        farPicks.set(key, picks)
      }
      out.set(picks)
      return picks.length
    }
  }
}
