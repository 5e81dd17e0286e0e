import type { Predictor, PredictorContext } from "./predictor.ts"

/** Every expert of the target layer (SE-MoE loads whole layers ahead: `prefetch=window:2,predictor=all`). */
export function allExpertsPredictor(ctx: PredictorContext): Predictor {
  const E = ctx.stream.experts
  return {
    name: "all",
    predict(_s, _l, _cs, _cl, out) {
      for (let e = 0; e < E; e++) out[e] = e
      return E
    }
  }
}
