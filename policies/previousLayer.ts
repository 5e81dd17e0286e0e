import { actualSet, type Predictor, type PredictorContext } from "./predictor.ts"

/**
 * SLP: the expert ids of the most recent layer whose gate has run (the current layer of the
 * current step), reused as the prediction for a later layer.
 */
export function previousLayerPredictor(ctx: PredictorContext): Predictor {
  return {
    name: "prev-layer",
    predict(_step, _layer, curStep, curLayer, out) {
      const set = actualSet(ctx.stream, curStep, curLayer)
      out.set(set)
      return set.length
    }
  }
}
