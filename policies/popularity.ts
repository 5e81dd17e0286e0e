import { defaultTop, normalize, topByScore, type Predictor, type PredictorContext } from "./predictor.ts"

/** Static popularity: each layer's most used experts in the training data. */
export function popularityPredictor(ctx: PredictorContext): Predictor {
  const { layers: L, experts: E } = ctx.stream
  const tables = ctx.training.folds.map((slices) => {
    const counts = new Float64Array(L * E)
    for (const { stream: a, from, to } of slices) {
      for (let cell = from * L; cell < to * L; cell++) {
        const l = cell % L
        for (let i = a.offsets[cell]!; i < a.offsets[cell + 1]!; i++)
          counts[l * E + a.keys[i]!]! += a.counts ? a.counts[i]! : 1
      }
    }
    return counts
  })
  return {
    name: "popularity",
    predict(step, layer, _cs, _cl, out) {
      const t = tables[ctx.training.foldOf(step)]!
      return topByScore(t.subarray(layer * E, (layer + 1) * E), defaultTop(ctx, step), out)
    },
    distribution(step, layer, _cs, _cl, out) {
      const t = tables[ctx.training.foldOf(step)]!
      return normalize(t.subarray(layer * E, (layer + 1) * E), out)
    }
  }
}
