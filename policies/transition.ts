import { actualSet, normalize, scoringPredictor, type Predictor, type PredictorContext } from "./predictor.ts"

/**
 * Cross-layer transition tables: counts of (expert e at layer l → expert e' at layer l + d) over
 * each fold's training steps, one table per distance d ≤ maxDistance, built on first use. Each
 * is L·E² counts, so distances are bounded; farther targets are scored by the target layer's
 * popularity in the same training steps (the table's marginal, where the dependence has faded).
 */
export class TransitionTables {
  private readonly tables = new Map<string, Float64Array>()
  private readonly row: Float64Array
  constructor(
    private readonly ctx: PredictorContext,
    readonly maxDistance = 4
  ) {
    this.row = new Float64Array(ctx.stream.experts)
  }

  table(fold: number, d: number): Float64Array {
    const id = `${fold}:${d}`
    let t = this.tables.get(id)
    if (t) return t
    const { layers: L, experts: E } = this.ctx.stream
    t = new Float64Array(L * E * E)
    for (const { stream: s, from, to } of this.ctx.training.folds[fold]!) {
      for (let step = from; step < to; step++) {
        for (let l = 0; l + d < L; l++) {
          const src = actualSet(s, step, l),
            dst = actualSet(s, step, l + d)
          for (let i = 0; i < src.length; i++) {
            const row = (l * E + src[i]!) * E
            for (let j = 0; j < dst.length; j++) t[row + dst[j]!]!++
          }
        }
      }
    }
    this.tables.set(id, t)
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

  /** Add the transition counts from the experts at (step, fromLayer) to `layer` into `scores`. */
  addScores(step: number, fromLayer: number, layer: number, scores: Float64Array, weight = 1): void {
    const E = this.ctx.stream.experts
    const fold = this.ctx.training.foldOf(step)
    const d = layer - fromLayer
    const rowScores = this.row.fill(0)
    if (d > this.maxDistance) {
      const pop = this.popularity(fold)
      for (let e = 0; e < E; e++) rowScores[e] = pop[layer * E + e]!
    } else {
      const t = this.table(fold, d)
      const src = actualSet(this.ctx.stream, step, fromLayer)
      for (let i = 0; i < src.length; i++) {
        const row = (fromLayer * E + src[i]!) * E
        for (let e = 0; e < E; e++) rowScores[e]! += t[row + e]!
      }
    }
    if (normalize(rowScores, rowScores)) for (let e = 0; e < E; e++) scores[e]! += weight * rowScores[e]!
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
