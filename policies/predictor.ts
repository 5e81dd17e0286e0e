import type { AccessStream } from "../traces/batching.ts"
import type { Trace } from "../traces/trace.ts"
import type { OnnxRoutes } from "./onnxRoutes.ts"
import type { Training } from "./training.ts"

/**
 * Predicts which experts a (step, layer) will need, using only what is known at the gate of
 * (curStep, curLayer): every earlier step, and layers ≤ curLayer of the current one.
 */
export interface Predictor {
  readonly name: string
  /** Write the predicted expert ids into `out`; return how many. */
  predict(step: number, layer: number, curStep: number, curLayer: number, out: Uint16Array): number
  /** Probability per expert for (step, layer), for predictors that have one; returns false if not. */
  distribution?(step: number, layer: number, curStep: number, curLayer: number, out: Float64Array): boolean
  /** A remark for the result (e.g. "no pre-gate lookahead in trace: history only"). */
  readonly note?: string
  /** Host time the predictor costs before step `step` runs, when it is charged (ns). */
  hostNs?(step: number): number
}

export interface PredictorContext {
  readonly stream: AccessStream
  readonly trace: Trace
  /** For error messages. */
  readonly traceName: string
  /** How many experts a scoring predictor returns for a target (0 = its default). */
  readonly top: number
  /** Training data for learned predictors: never the steps they are scored on (see training.ts). */
  readonly training: Training
  /** Predictor options from the policy spec (e.g. `predictor=transition:decay=0.5`). */
  readonly args: ReadonlyArray<string>
  /** An ONNX model's decisions, computed before the replay (`predictor=onnx`). */
  readonly onnx?: OnnxRoutes
}

/** Set of experts at (step, layer) in the stream. */
export function actualSet(a: AccessStream, step: number, layer: number): Uint16Array {
  const cell = step * a.layers + layer
  return a.keys.subarray(a.offsets[cell]!, a.offsets[cell + 1]!)
}

/** Default number of experts a scoring predictor names for a step: top-k for each of its tokens. */
export function defaultTop(ctx: PredictorContext, step: number): number {
  if (ctx.top > 0) return ctx.top
  const tokens = ctx.stream.stepTokenOffsets[step + 1]! - ctx.stream.stepTokenOffsets[step]!
  return Math.min(ctx.stream.experts, ctx.trace.model.topK * Math.max(1, tokens))
}

/**
 * A predictor that scores every expert of the target: it names the top-n (n = `top`, or top-k per
 * token of the step) and offers the normalized scores as its probabilities.
 */
export function scoringPredictor(
  name: string,
  ctx: PredictorContext,
  scores: Float64Array,
  score: (step: number, layer: number, curStep: number, curLayer: number) => void,
  note?: string
): Predictor {
  return {
    name,
    ...(note !== undefined ? { note } : {}),
    predict(step, layer, curStep, curLayer, out) {
      score(step, layer, curStep, curLayer)
      return topByScore(scores, defaultTop(ctx, step), out)
    },
    distribution(step, layer, curStep, curLayer, out) {
      score(step, layer, curStep, curLayer)
      return normalize(scores, out)
    }
  }
}

/** Normalize scores into a probability per expert (false when all are zero). */
export function normalize(scores: Float64Array, out: Float64Array): boolean {
  let sum = 0
  for (let e = 0; e < scores.length; e++) sum += scores[e]!
  if (sum <= 0) return false
  for (let e = 0; e < scores.length; e++) out[e] = scores[e]! / sum
  return true
}

/** Top-n experts by score (ties: lower id first), written to out. */
export function topByScore(scores: Float64Array, n: number, out: Uint16Array): number {
  const E = scores.length
  let count = 0
  const taken = new Uint8Array(E)
  for (; count < n && count < E; count++) {
    let best = -1
    for (let e = 0; e < E; e++) if (!taken[e] && (best < 0 || scores[e]! > scores[best]!)) best = e
    if (best < 0 || scores[best]! <= 0) break
    taken[best] = 1
    out[count] = best
  }
  return count
}
