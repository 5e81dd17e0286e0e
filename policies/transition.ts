import { actualSet, scoringPredictor, type Predictor, type PredictorContext } from "./predictor.ts"

/**
 * Cross-layer transition tables: counts of (expert e at layer l → expert e' at layer l + d) over
 * each fold's training steps, one table per distance d ≤ maxDistance, built on first use. Each
 * is L·E² counts, so distances are bounded; farther targets are scored by the target layer's
 * popularity in the same training steps (the table's marginal, where the dependence has faded).
 */
export class TransitionTables {
  /** By fold · (maxDistance + 1) + d. Integer counts, exact in float32 while a pair occurs in < 2^24 steps. */
  private readonly tables: Array<Float32Array | undefined> = []
  private readonly mark: Uint8Array
  constructor(
    private readonly ctx: PredictorContext,
    readonly maxDistance = 4
  ) {
    this.mark = new Uint8Array(ctx.stream.experts)
  }

  table(fold: number, d: number): Float32Array {
    const id = fold * (this.maxDistance + 1) + d
    let t = this.tables[id]
    if (t) return t
    const { layers: L, experts: E } = this.ctx.stream
    t = new Float32Array(L * E * E)
    // Layer by layer, so one layer's E × E block stays in cache while every step adds to it.
    for (let l = 0; l + d < L; l++)
      for (const { stream: s, from, to } of this.ctx.training.folds[fold]!) {
        const { keys, offsets } = s
        const sL = s.layers
        for (let step = from; step < to; step++) {
          const src = step * sL + l,
            dst = src + d
          const d0 = offsets[dst]!,
            d1 = offsets[dst + 1]!
          for (let i = offsets[src]!; i < offsets[src + 1]!; i++) {
            const row = (l * E + keys[i]!) * E
            for (let j = d0; j < d1; j++) t[row + keys[j]!]!++
          }
        }
      }
    this.tables[id] = t
    return t
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
   * entered or left the set since the last query there (consecutive steps share most of their
   * experts); integer sums, so exactly what summing afresh gives. The returned array is internal.
   */
  rowSum(fold: number, fromLayer: number, d: number, src: Uint16Array): Float64Array {
    const E = this.ctx.stream.experts,
      L = this.ctx.stream.layers
    const t = this.table(fold, d)
    const id = (fold * (this.maxDistance + 1) + d) * L + fromLayer
    let st = this.sums[id]
    if (!st) {
      st = { sum: new Float64Array(E), members: new Uint16Array(E), count: 0, isMember: new Uint8Array(E) }
      this.sums[id] = st
    }
    const inNew = this.mark
    for (let i = 0; i < src.length; i++) inNew[src[i]!] = 1
    let changes = 0
    for (let i = 0; i < st.count; i++) if (!inNew[st.members[i]!]) changes++
    for (let i = 0; i < src.length; i++) if (!st.isMember[src[i]!]) changes++
    const base = fromLayer * E
    if (changes >= src.length) {
      // Mostly new: sum afresh, eight rows per pass over the sum (integers: any order is exact).
      const sum = st.sum.fill(0)
      let i = 0
      for (; i + 7 < src.length; i += 8) {
        const r0 = (base + src[i]!) * E,
          r1 = (base + src[i + 1]!) * E,
          r2 = (base + src[i + 2]!) * E,
          r3 = (base + src[i + 3]!) * E,
          r4 = (base + src[i + 4]!) * E,
          r5 = (base + src[i + 5]!) * E,
          r6 = (base + src[i + 6]!) * E,
          r7 = (base + src[i + 7]!) * E
        for (let e = 0; e < E; e++)
          sum[e]! +=
            t[r0 + e]! + t[r1 + e]! + t[r2 + e]! + t[r3 + e]! + t[r4 + e]! + t[r5 + e]! + t[r6 + e]! + t[r7 + e]!
      }
      for (; i < src.length; i++) {
        const row = (base + src[i]!) * E
        for (let e = 0; e < E; e++) sum[e]! += t[row + e]!
      }
    } else {
      for (let i = 0; i < st.count; i++) {
        const x = st.members[i]!
        if (inNew[x]) continue
        const row = (base + x) * E
        for (let e = 0; e < E; e++) st.sum[e]! -= t[row + e]!
      }
      for (let i = 0; i < src.length; i++) {
        const x = src[i]!
        if (st.isMember[x]) continue
        const row = (base + x) * E
        for (let e = 0; e < E; e++) st.sum[e]! += t[row + e]!
      }
    }
    for (let i = 0; i < st.count; i++) st.isMember[st.members[i]!] = 0
    st.members.set(src)
    st.count = src.length
    for (let i = 0; i < src.length; i++) {
      st.isMember[src[i]!] = 1
      inNew[src[i]!] = 0
    }
    return st.sum
  }

  private readonly sums: Array<
    { sum: Float64Array; members: Uint16Array; count: number; isMember: Uint8Array } | undefined
  > = []

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

/**
 * `predictor=transition`: a target in the current step is scored from the current layer's
 * experts through the table for its distance. A target in the next step (wrap-around) has no
 * same-token source yet: the current step's experts at the target layer are used instead (that
 * is, previous-token prediction).
 */
export function transitionPredictor(ctx: PredictorContext): Predictor {
  const E = ctx.stream.experts
  const tables = new TransitionTables(ctx)
  const scores = new Float64Array(E)
  const score = (step: number, layer: number, curStep: number, curLayer: number): void => {
    scores.fill(0)
    if (step !== curStep) {
      const set = actualSet(ctx.stream, curStep, layer)
      for (let i = 0; i < set.length; i++) scores[set[i]!] = 1
    } else tables.addScores(step, curLayer, layer, scores)
  }
  return scoringPredictor("transition", ctx, scores, score)
}
