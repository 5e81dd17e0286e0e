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

/** Scratch for unionOverTokens, made once per predictor (a prediction allocates nothing). */
export function unionScratch(experts: number) {
  return { scores: new Float64Array(experts), picks: new Uint16Array(experts), mark: new Uint8Array(experts) }
}

/**
 * Union over the step's tokens of each token's own top-n: per-token scoring in `scoreToken`, or
 * `topOf` when it lists a token's picks itself (it returns how many, or -1 to score the token).
 */
export function unionOverTokens(
  ctx: PredictorContext,
  step: number,
  n: number,
  scoreToken: (token: number, scores: Float64Array) => void,
  out: Uint16Array,
  scratch: ReturnType<typeof unionScratch>,
  topOf?: (token: number, picks: Uint16Array) => number
): number {
  const a = ctx.stream
  const { scores, picks, mark } = scratch
  let count = 0
  for (let i = a.stepTokenOffsets[step]!; i < a.stepTokenOffsets[step + 1]!; i++) {
    const token = a.stepTokens[i]!
    let m = topOf ? topOf(token, picks) : -1
    if (m < 0) {
      scores.fill(0)
      scoreToken(token, scores)
      m = topByScore(scores, n, picks)
    }
    for (let j = 0; j < m; j++)
      if (!mark[picks[j]!]) {
        mark[picks[j]!] = 1
        out[count++] = picks[j]!
      }
  }
  for (let j = 0; j < count; j++) mark[out[j]!] = 0
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
  const E = ctx.stream.experts
  const tables = new TokenTables(ctx)
  const n = ctx.top > 0 ? ctx.top : K
  const stepOf = stepOfToken(ctx)
  /** By fold · L + layer: the popularity ranking a token without its own statistics falls back on. */
  const orders: Array<Uint16Array | undefined> = []
  const scratch = unionScratch(E)
  const sparse = new Float64Array(E)
  const cands = new Int32Array(E)
  const isCand = new Uint8Array(E)
  /** The previous token's (token, layer) cell, once its step ran (not inside a prefill chunk); else -1. */
  const previousCell = (token: number, step: number, layer: number) =>
    token > 0 && t.request[token - 1] === t.request[token] && stepOf[token - 1]! < step ? (token - 1) * L + layer : -1
  /** The previous token's experts at `layer` score w.prev each. */
  const addPrevious = (token: number, step: number, layer: number, scores: Float64Array) => {
    const cell = previousCell(token, step, layer)
    if (cell < 0) return
    for (let k = 0; k < K; k++) {
      const e = t.experts[cell * K + k]!
      if (e !== GAP) scores[e]! += w.prev
    }
  }
  /**
   * A token without token-id statistics scores w.prev on its previous token's experts plus the
   * layer's popularity: its top n lie among those experts and the n most popular others, so only
   * they are scored, by the same sums (the same picks as scoring all E, for a fraction of the work).
   */
  const sparseTop = (fold: number, token: number, step: number, layer: number, picks: Uint16Array): number => {
    let nc = 0
    const cell = previousCell(token, step, layer)
    if (cell >= 0)
      for (let k = 0; k < K; k++) {
        const e = t.experts[cell * K + k]!
        if (e === GAP || isCand[e]) continue
        isCand[e] = 1
        cands[nc++] = e
        sparse[e] = 0
      }
    if (w.pop > 0) {
      const id = fold * L + layer
      let order = orders[id]
      if (!order) {
        order = tables.popularityOrder(fold, layer, w.pop)
        orders[id] = order
      }
      for (let i = 0, others = 0; i < order.length && others < n; i++) {
        const e = order[i]!
        if (isCand[e]) continue
        isCand[e] = 1
        cands[nc++] = e
        sparse[e] = 0
        others++
      }
    }
    addPrevious(token, step, layer, sparse)
    if (w.pop > 0) tables.addPopularity(fold, layer, sparse, w.pop, cands, nc)
    // Insert each into picks best first (ties: lower id first), positive scores only, as topByScore.
    let m = 0
    for (let i = 0; i < nc; i++) {
      const e = cands[i]!,
        se = sparse[e]!
      isCand[e] = 0
      if (!(se > 0)) continue
      let j = m
      while (j > 0 && (sparse[picks[j - 1]!]! < se || (sparse[picks[j - 1]!]! === se && picks[j - 1]! > e))) j--
      if (j >= n) continue
      for (let q = Math.min(m, n - 1); q > j; q--) picks[q] = picks[q - 1]!
      picks[j] = e
      if (m < n) m++
    }
    return m
  }
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
          addPrevious(token, step, layer, scores)
          tables.addScores(fold, token, layer, scores, w.tok, w.pop)
        },
        out,
        scratch,
        (token, picks) =>
          w.tok > 0 && tables.tokenRow(fold, token) !== undefined ? -1 : sparseTop(fold, token, step, layer, picks)
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
  const scratch = unionScratch(ctx.stream.experts)
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
        out,
        scratch
      )
    }
  }
}
