import { actualSet, type Predictor, type PredictorContext } from "./predictor.ts"

/** The true future: the upper bound every real predictor is measured against. */
export function oraclePredictor(ctx: PredictorContext): Predictor {
  return {
    name: "oracle",
    predict(step, layer, _cs, _cl, out) {
      const set = actualSet(ctx.stream, step, layer)
      out.set(set)
      return set.length
    },
    distribution(step, layer, _cs, _cl, out) {
      const set = actualSet(ctx.stream, step, layer)
      out.fill(0)
      for (let i = 0; i < set.length; i++) out[set[i]!] = 1 / set.length
      return set.length > 0
    }
  }
}
