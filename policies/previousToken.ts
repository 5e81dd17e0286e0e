import { actualSet, type Predictor, type PredictorContext } from "./predictor.ts"

/**
 * TLP: the experts the previous step used at the same layer (with batch size 1, the previous
 * token of the request; with batching, the previous step's union).
 */
export function previousTokenPredictor(ctx: PredictorContext): Predictor {
  return {
    name: "prev-token",
    predict(step, layer, _cs, _cl, out) {
      if (step === 0) return 0
      const set = actualSet(ctx.stream, step - 1, layer)
      out.set(set)
      return set.length
    }
  }
}
