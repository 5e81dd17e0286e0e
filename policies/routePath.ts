/**
 * EF-H's routing-path predictor stand-in (arXiv 2410.17954 §3.2): before a step's first layer
 * runs, predict every layer's experts for each token. The paper trains a small T5 on (input,
 * path) pairs; here a token's path is scored per layer from what is known before the step:
 *   prev · the experts the request's previous token used at that layer
 *   tok  · P(expert | token id, layer) from the training tokens (when the trace has token ids)
 *   pop  · the layer's expert popularity in the training tokens
 * and the top-k per token (or `top`) are kept; the step's prediction is the union over its
 * tokens. Weights: `predictor=route-path:prev=1:tok=1:pop=0.25`. Predictions recorded in the
 * trace by an external model are replayed by `predictor=recorded`.
 */
import { GAP } from "../traces/trace.ts"
import { InputError } from "../base/errors.ts"
import { topByScore, type Predictor, type PredictorContext } from "./predictor.ts"
import { numericArgs } from "./spec.ts"
import { TokenTables } from "./tokenTables.ts"

/** Union over the step's tokens of each token's own top-n: per-token scoring in `scoreToken`. */
export function unionOverTokens(
  ctx: PredictorContext,
  step: number,
  n: number,
  scoreToken: (token: number, scores: Float64Array) => void,
  out: Uint16Array
): number {
  const a = ctx.stream,
    E = a.experts
  const scores = new Float64Array(E),
    picks = new Uint16Array(E),
    mark = new Uint8Array(E)
  let count = 0
  for (let i = a.stepTokenOffsets[step]!; i < a.stepTokenOffsets[step + 1]!; i++) {
    scores.fill(0)
    scoreToken(a.stepTokens[i]!, scores)
    const m = topByScore(scores, n, picks)
    for (let j = 0; j < m; j++)
      if (!mark[picks[j]!]) {
        mark[picks[j]!] = 1
        out[count++] = picks[j]!
      }
  }
  return count
}

/** Step of each trace token in the replayed stream. */
export function stepOfToken(ctx: PredictorContext): Int32Array {
  const a = ctx.stream
  const out = new Int32Array(ctx.trace.tokens).fill(-1)
  for (let s = 0; s < a.steps; s++)
    for (let i = a.stepTokenOffsets[s]!; i < a.stepTokenOffsets[s + 1]!; i++) out[a.stepTokens[i]!] = s
  return out
}

export function routePathPredictor(ctx: PredictorContext): Predictor {
  const w = numericArgs(ctx.args, { prev: 1, tok: 1, pop: 0.25 }, "predictor=route-path")
  const t = ctx.trace
  const { layers: L, topK: K } = t.model
  const tables = new TokenTables(ctx)
  const n = ctx.top > 0 ? ctx.top : K
  const stepOf = stepOfToken(ctx)
  return {
    name: "route-path",
    note: t.tokenId
      ? "previous token's path + token-id and popularity statistics"
      : "no token ids in the trace: previous token's path + popularity",
    predict(step, layer, _cs, _cl, out) {
      const fold = ctx.training.foldOf(step)
      return unionOverTokens(
        ctx,
        step,
        n,
        (token, scores) => {
          // The previous token's path is known only once its step ran (not inside a prefill chunk).
          if (token > 0 && t.request[token - 1] === t.request[token] && stepOf[token - 1]! < step) {
            const cell = (token - 1) * L + layer
            for (let k = 0; k < K; k++) {
              const e = t.experts[cell * K + k]!
              if (e !== GAP) scores[e]! += w.prev
            }
          }
          tables.addScores(fold, token, layer, scores, w.tok, w.pop)
        },
        out
      )
    }
  }
}

export function recordedPredictor(ctx: PredictorContext): Predictor {
  const t = ctx.trace
  if (!t.predicted || t.predictionDepth === 0) {
    throw new InputError(
      ctx.traceName,
      "header",
      "columns.predicted",
      "predictor recorded needs route predictions recorded in the trace (field 'predicted'); this trace has none"
    )
  }
  const P = t.predictionDepth,
    L = t.model.layers
  return {
    name: "recorded",
    predict(step, layer, _cs, _cl, out) {
      return unionOverTokens(
        ctx,
        step,
        P,
        (token, scores) => {
          for (let j = 0; j < P; j++) {
            const e = t.predicted![(token * L + layer) * P + j]!
            if (e !== GAP) scores[e] = P - j
          }
        },
        out
      )
    }
  }
}
