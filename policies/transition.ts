import {
  actualSet,
  defaultTop,
  scoringPredictor,
  topByScore,
  type Predictor,
  type PredictorContext
} from "./predictor.ts"
import { SharedBlocks, type Workspace } from "./structures/sharedBlocks.ts"
import { foldSteps, type TrainingSlice } from "./training.ts"

/**
 * Cross-layer transition tables: counts of (expert e at layer l → expert e' at layer l + d) over
 * each fold's training steps, one table per distance d ≤ maxDistance, built a layer's block at a
 * time on first use (a policy whose targets are mostly farther than the tables reach queries a
 * few blocks of some distances, not whole tables). Each table is L·E² counts, so distances are
 * bounded; farther targets are scored by the target layer's popularity in the same training
 * steps (the table's marginal, where the dependence has faded). The blocks sit in a SharedBlocks
 * store (the context's, shared with another thread, or one of this table's own), where the
 * row-sum kernel reads them.
 */
export class TransitionTables {
  private readonly store: SharedBlocks
  /** Block views by id ((fold · (maxDistance + 1) + d) · L + l), once taken from the store. */
  private readonly blocks: Array<Uint32Array | undefined> = []
  private workspace: (Workspace & { rowList: Int32Array }) | null = null
  private readonly mark: Uint8Array
  constructor(
    private readonly ctx: PredictorContext,
    readonly maxDistance = 4,
    /** How blocks are counted: by the cheaper way (default), or always one way (tests: the same counts). */
    private readonly countBy: "cost" | "pairs" | "bitsets" = "cost"
  ) {
    this.mark = new Uint8Array(ctx.stream.experts)
    const shared = ctx.sharedBlocks
    if (
      shared &&
      (shared.folds !== ctx.training.folds.length ||
        shared.distances !== maxDistance + 1 ||
        shared.layers !== ctx.stream.layers ||
        shared.experts !== ctx.stream.experts ||
        ctx.training.folds.some((f) => foldSteps(f) > shared.maxSteps))
    )
      throw new Error("transition tables: the shared blocks are shaped for other tables")
    this.store = shared ?? TransitionTables.sharedStore(ctx, maxDistance)
    this.bitsetKeys = new Int32Array(this.store.bitsetTables).fill(-1)
    this.bitsetAsked = new Float64Array(this.store.bitsetTables)
  }

  /** A store for tables of this context (default reach): to share with another thread's. */
  static sharedStore(ctx: PredictorContext, maxDistance = 4): SharedBlocks {
    const steps = Math.max(0, ...ctx.training.folds.map(foldSteps))
    return new SharedBlocks(ctx.training.folds.length, maxDistance + 1, ctx.stream.layers, ctx.stream.experts, steps)
  }

  private id(fold: number, d: number, l: number): number {
    return (fold * (this.maxDistance + 1) + d) * this.ctx.stream.layers + l
  }

  private block(fold: number, d: number, l: number): Uint32Array {
    const id = this.id(fold, d, l)
    let t = this.blocks[id]
    if (!t) {
      t = this.store.take(id, (out) => this.count(out, fold, d, l))
      this.blocks[id] = t
    }
    return t
  }

  /**
   * Add block (fold, d, l)'s counts into `out` (zeroed; rows of store.stride): by pair increments,
   * or, where a step's sets are dense enough that that costs more, as the popcounts of bitsets over
   * the fold's steps (one bit per step, one row per expert: count(e → e') = |X_e ∧ Y_e'|).
   */
  private count(out: Uint32Array, fold: number, d: number, l: number): void {
    const { layers: L, experts: E } = this.ctx.stream
    const slices = this.ctx.training.folds[fold]!
    const steps = foldSteps(slices)
    // A row sum adds at most E rows of counts, each at most the fold's steps: u32 lanes must hold it.
    if (E * steps >= 2 ** 32)
      throw new Error(`transition tables: ${steps} training steps, at most ${Math.floor((2 ** 32 - 1) / E)} supported`)
    if (l + d >= L) return
    let pairs = 0
    for (const { stream: s, from, to } of slices)
      for (let step = from; step < to; step++) {
        const src = step * s.layers + l
        pairs += (s.offsets[src + 1]! - s.offsets[src]!) * (s.offsets[src + d + 1]! - s.offsets[src + d]!)
      }
    const store = this.store
    // bench/transitionBench.ts, batch 8: about 1.7 ns an increment, 3 ns a 16-byte AND-popcount (bitsets kept).
    const popcounts = store.bitsetRows * E * (store.bitsetBytes / 16)
    const bitsets = this.countBy === "cost" ? 2 * popcounts < pairs : this.countBy === "bitsets"
    if (store.bitsetBytes > 0 && bitsets) this.countByBitsets(out, fold, d, l)
    else this.countByPairs(out, slices, d, l)
  }

  private countByBitsets(out: Uint32Array, fold: number, d: number, l: number): void {
    const E = this.ctx.stream.experts
    const store = this.store
    const from = this.layerBitsets(fold, l),
      to = this.layerBitsets(fold, l + d)
    this.ownWorkspace().kernels.countPairs(out.byteOffset, 4 * store.stride, from, to, E, store.bitsetBytes)
  }

  /** (fold · L + layer) of each bitset table of the workspace (-1: none), and when each was last asked for. */
  private readonly bitsetKeys: Int32Array
  private readonly bitsetAsked: Float64Array
  private asks = 0

  /**
   * Byte offset of the bitset table of `layer` over fold `fold`'s steps (row e: bit t set where
   * expert e is in the t-th training step's set), built here unless a workspace table still
   * holds it; the least recently asked table gives way. Consecutive blocks share layers.
   */
  private layerBitsets(fold: number, layer: number): number {
    const store = this.store
    const w = this.ownWorkspace()
    const n = store.bitsetTables,
      size = store.bitsetRows * store.bitsetBytes
    const keys = this.bitsetKeys,
      asked = this.bitsetAsked
    const key = fold * this.ctx.stream.layers + layer
    let slot = keys.indexOf(key)
    if (slot < 0) {
      slot = 0
      for (let i = 1; i < n; i++) if (asked[i]! < asked[slot]!) slot = i
      keys[slot] = key
      const bits = new Uint8Array(store.memory.buffer, w.bitsets + slot * size, size).fill(0)
      const bytes = store.bitsetBytes
      let t = 0
      for (const { stream: s, from, to } of this.ctx.training.folds[fold]!) {
        const { keys: experts, offsets } = s
        for (let step = from; step < to; step++, t++) {
          const cell = step * s.layers + layer,
            at = t >> 3,
            bit = 1 << (t & 7)
          for (let i = offsets[cell]!; i < offsets[cell + 1]!; i++) bits[experts[i]! * bytes + at]! |= bit
        }
      }
    }
    asked[slot] = ++this.asks
    return w.bitsets + slot * size
  }

  private countByPairs(counts: Uint32Array, slices: ReadonlyArray<TrainingSlice>, d: number, l: number): void {
    const S = this.store.stride
    for (const { stream: s, from, to } of slices) {
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
          const r0 = keys[i]! * S,
            r1 = keys[i + 1]! * S,
            r2 = keys[i + 2]! * S,
            r3 = keys[i + 3]! * S,
            r4 = keys[i + 4]! * S,
            r5 = keys[i + 5]! * S,
            r6 = keys[i + 6]! * S,
            r7 = keys[i + 7]! * S
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
          const row = keys[i]! * S
          for (let j = d0; j < d1; j++) counts[row + keys[j]!]!++
        }
      }
    }
  }

  /**
   * Count one block of the shared store (ctx.sharedBlocks) another thread is likely to want next,
   * for a thread that would otherwise wait for it. False when there is none.
   */
  help(): boolean {
    return this.ctx.sharedBlocks?.help((out, fold, d, l) => this.count(out, fold, d, l)) ?? false
  }

  /**
   * Count fold `fold`'s blocks from the last layer down while another thread sharing the store
   * (ctx.sharedBlocks) takes them from the first layer up, until the two meet; none without a
   * shared store.
   */
  countFromTop(fold: number): void {
    this.ctx.sharedBlocks?.countFromTop(fold, (out, d, l) => this.count(out, fold, d, l))
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

  /**
   * The blocks a fold has built, copied, to send to another thread's tables (adoptFold); none when
   * the store is shared (ctx.sharedBlocks): the other thread reads them there.
   */
  exportFold(fold: number): FoldBlocks {
    const per = (this.maxDistance + 1) * this.ctx.stream.layers
    const out: FoldBlocks = { ids: [], blocks: [] }
    if (this.ctx.sharedBlocks) return out
    for (let id = fold * per; id < (fold + 1) * per; id++) {
      const t = this.blocks[id]
      if (!t) continue
      out.ids.push(id)
      out.blocks.push(t.slice())
    }
    return out
  }

  /** Take blocks another thread built (exportFold) as if built here: the same counts. */
  adoptFold(b: FoldBlocks): void {
    for (let i = 0; i < b.ids.length; i++) this.store.adopt(b.ids[i]!, b.blocks[i]!)
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
   * into layer fromLayer + d. Kept per (fold, fromLayer, d) and updated by the experts that
   * entered or left the set since the last query there (consecutive steps share some of their
   * experts), when fewer rows change than are summed afresh; integer sums, so exactly what summing
   * afresh gives. Summed by the SIMD kernel (structures/countKernels.ts). The returned array is
   * internal.
   */
  rowSum(fold: number, fromLayer: number, d: number, src: Uint16Array): Float64Array {
    const E = this.ctx.stream.experts
    const store = this.store
    this.block(fold, d, fromLayer)
    const id = this.id(fold, d, fromLayer)
    const w = this.ownWorkspace()
    let st = this.sums[id]
    if (!st) {
      st = {
        kept: new Uint32Array(store.memory.buffer, w.sums + id * 4 * store.stride, E),
        sum: new Float64Array(E),
        members: new Uint16Array(E),
        count: 0,
        isMember: new Uint8Array(E)
      }
      this.sums[id] = st
    }
    const inNew = this.mark
    for (let i = 0; i < src.length; i++) inNew[src[i]!] = 1
    let changes = 0
    for (let i = 0; i < st.count; i++) if (!inNew[st.members[i]!]) changes++
    for (let i = 0; i < src.length; i++) if (!st.isMember[src[i]!]) changes++
    // Row offsets for the kernel: rows to add, then rows to take away.
    const rows = w.rowList
    const at = store.offset(id),
      rowBytes = 4 * store.stride
    let nAdd = 0,
      nSub = 0
    const fresh = changes >= src.length
    if (fresh) for (let i = 0; i < src.length; i++) rows[nAdd++] = at + src[i]! * rowBytes
    else {
      for (let i = 0; i < src.length; i++) if (!st.isMember[src[i]!]) rows[nAdd++] = at + src[i]! * rowBytes
      for (let i = 0; i < st.count; i++) {
        const x = st.members[i]!
        if (!inNew[x]) rows[nAdd + nSub++] = at + x * rowBytes
      }
    }
    const out = w.sums + id * rowBytes
    w.kernels.sumRows(out, fresh ? w.zero : out, w.rows, nAdd, w.rows + 4 * nAdd, nSub, rowBytes)
    this.forget(st)
    st.members.set(src)
    st.count = src.length
    for (let i = 0; i < src.length; i++) {
      st.isMember[src[i]!] = 1
      inNew[src[i]!] = 0
    }
    const kept = st.kept,
      sum = st.sum
    for (let e = 0; e < E; e++) sum[e] = kept[e]!
    return sum
  }

  /** Drop a kept sum's members: the next query there sums afresh. */
  private forget(st: { members: Uint16Array; count: number; isMember: Uint8Array }): void {
    for (let i = 0; i < st.count; i++) st.isMember[st.members[i]!] = 0
    st.count = 0
  }

  /** This table's workspace in the store (claimed on the first row sum), with its row list as an array. */
  private ownWorkspace(): Workspace & { rowList: Int32Array } {
    if (!this.workspace) {
      const w = this.store.workspace()
      this.workspace = { ...w, rowList: new Int32Array(this.store.memory.buffer, w.rows, 2 * this.ctx.stream.experts) }
    }
    return this.workspace
  }
  private readonly sums: Array<
    { kept: Uint32Array; sum: Float64Array; members: Uint16Array; count: number; isMember: Uint8Array } | undefined
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
  blocks: Uint32Array[]
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
