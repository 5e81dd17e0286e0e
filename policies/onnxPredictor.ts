/**
 * `predictor=onnx:FILE[:host=NS|measured]`: a route predictor exported from PyTorch to ONNX
 * (docs/onnx-predictor.md has the input/output contract). The model is pure, and everything it
 * reads is in the trace, so workflows/runOnnxPredictor.ts runs it once over every query before the
 * replay (batched, through onnxruntime-node) and keeps each token's top-k experts per target layer;
 * this predictor only reads them back, as EF-H's route-path predictor does with its T5.
 *
 * A step's prediction for a target layer is the union of its tokens' picks, most-named first
 * (EF-H's rule: top-n per token, OR over the batch). A target in the next step is predicted from
 * the current step's tokens (the next tokens' ids are not known yet). With `host=`, each step is
 * charged the model's time before it runs: NS per query, or the measured mean (not deterministic).
 */
import { UsageError } from "../base/errors.ts"
import { GAP } from "../traces/trace.ts"
import { type Predictor, type PredictorContext, scoringPredictor } from "./predictor.ts"

export function onnxPredictor(ctx: PredictorContext): Predictor {
  const file = ctx.args[0]
  const routes = ctx.onnx
  if (!file) throw new UsageError("predictor=onnx needs the model file: predictor=onnx:FILE")
  if (!routes || routes.file !== file)
    throw new UsageError(
      `predictor=onnx:${file}: the model's routes were not computed before the replay ` +
        "(simulate, accuracy and sweeps compute them; a caller of simulate() passes `onnx`)"
    )
  let host: number | "measured" = 0
  for (const arg of ctx.args.slice(1)) {
    const [name, value] = arg.split("=")
    if (name !== "host" || value === undefined)
      throw new UsageError(`predictor=onnx:${file}: unknown argument '${arg}' (known: host=NS|measured)`)
    if (value === "measured") host = "measured"
    else if (Number.isFinite(Number(value)) && Number(value) >= 0) host = Number(value)
    else throw new UsageError(`predictor=onnx:${file}: host must be a non-negative number of ns or 'measured'`)
  }
  const a = ctx.stream,
    L = a.layers,
    E = a.experts
  const Q = routes.perLayer ? L : 1,
    P = routes.picks
  const scores = new Float64Array(E)
  const score = (step: number, layer: number, curStep: number, curLayer: number): void => {
    scores.fill(0)
    const q = routes.perLayer ? Math.min(L - 1, Math.max(0, curLayer + 1)) : 0
    const from = step === curStep ? step : curStep
    for (let i = a.stepTokenOffsets[from]!; i < a.stepTokenOffsets[from + 1]!; i++) {
      const base = ((a.stepTokens[i]! * Q + q) * L + layer) * P
      for (let r = 0; r < P; r++) {
        const e = routes.ids[base + r]!
        if (e !== GAP) scores[e]! += 1 + (P - r) * 1e-3
      }
    }
  }
  const perQuery = host === "measured" ? routes.nsPerQuery : host
  const note =
    `ONNX model ${file} (inputs ${routes.inputs.join(", ")}; ` +
    `queried ${routes.perLayer ? "at every layer" : "once per token"}, top-${P} per token)` +
    (host === 0 ? "" : `; host time charged: ${host === "measured" ? "measured" : `${host} ns`} per query`)
  return {
    ...scoringPredictor("onnx", ctx, scores, score, note),
    ...(perQuery > 0
      ? { hostNs: (step: number) => (a.stepTokenOffsets[step + 1]! - a.stepTokenOffsets[step]!) * Q * perQuery }
      : {})
  }
}
