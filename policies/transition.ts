import { actualSet, defaultTop, topByScore, type Predictor, type PredictorContext } from "./predictor.ts"

/**
 * Cross-layer transition table: counts of (expert e at layer l → expert e' at layer l + d) over
 * the training steps, one table per distance d (built on first use). A target in the current step
 * is scored from the current layer's experts; a target in the next step (wrap-around) has no
 * same-token source yet, so the current step's experts at the target layer are scored through
 * the d = 0 identity (that is, previous-token prediction).
 */
export function transitionPredictor(ctx: PredictorContext): Predictor {
  const a = ctx.stream
  const { layers: L, experts: E } = a
  const tables = new Map<string, Float64Array>()
  const table = (fold: number, d: number): Float64Array => {
    const id = `${fold}:${d}`
    let t = tables.get(id)
    if (!t) {
      t = new Float64Array(L * E * E)
      for (const { stream: s, from, to } of ctx.training.folds[fold]!) {
        for (let step = from; step < to; step++) {
          for (let l = 0; l + d < L; l++) {
            const src = actualSet(s, step, l), dst = actualSet(s, step, l + d)
            for (let i = 0; i < src.length; i++) {
              const row = (l * E + src[i]!) * E
              for (let j = 0; j < dst.length; j++) t[row + dst[j]!]!++
            }
          }
        }
      }
      tables.set(id, t)
    }
    return t
  }
  const scores = new Float64Array(E)
  return {
    name: "transition",
    predict(step, layer, curStep, curLayer, out) {
      const n = defaultTop(ctx, step)
      if (step !== curStep) {
        const set = actualSet(a, curStep, layer)
        out.set(set.subarray(0, Math.min(set.length, n)))
        return Math.min(set.length, n)
      }
      const d = layer - curLayer
      const t = table(ctx.training.foldOf(step), d)
      scores.fill(0)
      const src = actualSet(a, curStep, curLayer)
      for (let i = 0; i < src.length; i++) {
        const row = (curLayer * E + src[i]!) * E
        for (let e = 0; e < E; e++) scores[e]! += t[row + e]!
      }
      return topByScore(scores, n, out)
    }
  }
}
