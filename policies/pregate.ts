import { actualSet, type Predictor, type PredictorContext } from "./predictor.ts"
import { GAP } from "../traces/trace.ts"
import { InputError } from "../base/errors.ts"

/**
 * Pre-gate (Pre-gated MoE; Mixtral-offloading's speculative loading): the experts gate_{l+d}
 * picks from layer l's hidden state, recorded in the trace's `lookahead` column for d = 1..D.
 * Beyond D, or for a target in the next step, there is no pre-gate signal: the previous step's
 * experts at the target layer stand in (noted in the result).
 */
export function requireLookahead(ctx: PredictorContext, name: string): void {
  if (!ctx.trace.lookahead || ctx.trace.lookaheadDepth === 0) {
    throw new InputError(
      ctx.traceName,
      "header",
      "columns.lookahead",
      `predictor ${name} needs the trace's pre-gate lookahead (experts gate_{l+d} picks from layer l's hidden ` +
        `state); this trace has none`
    )
  }
}

/** Union over the step's tokens of the pre-gate picks for `layer` made at `curLayer`; -1 if out of reach. */
export function pregateSet(
  ctx: PredictorContext,
  step: number,
  layer: number,
  curStep: number,
  curLayer: number,
  mark: Uint8Array,
  out: Uint16Array
): number {
  const t = ctx.trace,
    a = ctx.stream
  const D = t.lookaheadDepth,
    K = t.model.topK,
    L = t.model.layers
  const d = layer - curLayer
  if (!t.lookahead || step !== curStep || d < 1 || d > D) return -1
  let n = 0
  for (let i = a.stepTokenOffsets[step]!; i < a.stepTokenOffsets[step + 1]!; i++) {
    const base = ((a.stepTokens[i]! * L + curLayer) * D + d - 1) * K
    for (let k = 0; k < K; k++) {
      const e = t.lookahead[base + k]!
      if (e !== GAP && !mark[e]) {
        mark[e] = 1
        out[n++] = e
      }
    }
  }
  for (let i = 0; i < n; i++) mark[out[i]!] = 0
  return n
}

export function pregatePredictor(ctx: PredictorContext): Predictor {
  requireLookahead(ctx, "pregate")
  const mark = new Uint8Array(ctx.stream.experts)
  return {
    name: "pregate",
    note: `pre-gate lookahead up to d=${ctx.trace.lookaheadDepth}; farther targets use the previous step's experts`,
    predict(step, layer, curStep, curLayer, out) {
      const n = pregateSet(ctx, step, layer, curStep, curLayer, mark, out)
      if (n >= 0) return n
      if (step === 0) return 0
      const prev = actualSet(ctx.stream, step - 1, layer)
      out.set(prev)
      return prev.length
    }
  }
}
