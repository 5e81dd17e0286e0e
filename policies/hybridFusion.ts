/**
 * `predictor=hybrid-fusion`: a hand-weighted stand-in for EF-A's hybrid predictor, kept for
 * comparison with the paper's RandomForest correction (`predictor=hybrid`, hybridForest.ts). The
 * fusion is a weighted sum of per-expert scores, each normalized to a probability (so a confident
 * history can outrank a pre-gate pick, and the pre-gate breaks ties among history's candidates):
 *   pg   · pre-gate picks for the target layer (when the trace records lookahead and d ≤ D)
 *   hist · cross-layer transitions from the current layer's experts (trained tables)
 *   prev · the previous step's experts at the target layer (temporal locality; on the real
 *          Mixtral trace the strongest single signal, 40% vs 34% for transitions at d = 1)
 *   tok  · P(expert | token id, layer) and layer popularity (trained; token ids when recorded)
 * Weights are spec arguments (`predictor=hybrid-fusion:pg=0.5:hist=0.15:prev=0.25:tok=0.1`). Without
 * pre-gate fields it runs on history alone and says so in the result (policy_detail.predictor_note).
 */
import { actualSet, normalize, scoringPredictor, type Predictor, type PredictorContext } from "./predictor.ts"
import { pregateSet } from "./pregate.ts"
import { numericArgs } from "./spec.ts"
import { TokenTables } from "./tokenTables.ts"
import { TransitionTables } from "./transition.ts"

export function hybridFusionPredictor(ctx: PredictorContext): Predictor {
  const w = numericArgs(ctx.args, { pg: 0.5, hist: 0.15, prev: 0.25, tok: 0.1 }, "predictor=hybrid-fusion")
  const a = ctx.stream,
    E = a.experts
  const hasPregate = ctx.trace.lookahead !== null && ctx.trace.lookaheadDepth > 0
  const transitions = new TransitionTables(ctx)
  const tokens = new TokenTables(ctx)
  const scores = new Float64Array(E)
  const part = new Float64Array(E)
  const picks = new Uint16Array(E)
  const mark = new Uint8Array(E)
  const score = (step: number, layer: number, curStep: number, curLayer: number) => {
    scores.fill(0)
    if (hasPregate && w.pg > 0) {
      const n = pregateSet(ctx, step, layer, curStep, curLayer, mark, picks)
      if (n > 0) for (let i = 0; i < n; i++) scores[picks[i]!]! += w.pg / n
    }
    if (step === curStep) transitions.addScores(step, curLayer, layer, scores, w.hist)
    // The previous step's experts at the target layer (for a next-step target, the current step's).
    const prevStep = step === curStep ? step - 1 : curStep
    if (prevStep >= 0) {
      const prev = actualSet(a, prevStep, layer)
      const weight = step === curStep ? w.prev : w.prev + w.hist
      for (let i = 0; i < prev.length; i++) scores[prev[i]!]! += weight / prev.length
    }
    part.fill(0)
    const fold = ctx.training.foldOf(step)
    const t0 = a.stepTokenOffsets[step]!,
      t1 = a.stepTokenOffsets[step + 1]!
    for (let i = t0; i < t1; i++) tokens.addScores(fold, a.stepTokens[i]!, layer, part, 1, 0.25)
    if (normalize(part, part)) for (let e = 0; e < E; e++) scores[e]! += w.tok * part[e]!
  }
  return scoringPredictor(
    "hybrid-fusion",
    ctx,
    scores,
    score,
    hasPregate
      ? `pre-gate (d ≤ ${ctx.trace.lookaheadDepth}) fused with trained history`
      : "no pre-gate lookahead in the trace: history only (transitions, previous token, token statistics)"
  )
}
