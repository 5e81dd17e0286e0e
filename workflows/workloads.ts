/** Traces named by sweep entries: a file, or a seeded synthetic trace. Cached per process. */
import { loadTrace } from "../traces/load.ts"
import { generateTrace } from "../traces/generator.ts"
import { presetParams, withLookahead } from "../traces/generatorParams.ts"
import { generateZipfTrace } from "../traces/synthetic.ts"
import type { Trace } from "../traces/trace.ts"
import { loadModel } from "../base/profiles.ts"
import type { TraceSpec } from "./sweepFile.ts"

const cache = new Map<string, Trace>()

export function traceOf(t: TraceSpec): Trace {
  const key = JSON.stringify(t)
  let trace = cache.get(key)
  if (!trace) {
    const m = t.model === undefined ? null : loadModel(t.model)
    const model = m && { name: m.id, layers: m.layers, experts: m.experts, topK: m.topK }
    const s = t.synthetic
    if (t.path !== undefined)
      trace = loadTrace(t.path, model, undefined, { weights: false }) // replays only
    else if (model === null) throw new Error(`sweep trace '${t.id}': a synthetic trace needs a model`)
    else if (s!.generator === "zipf") {
      trace = generateZipfTrace({
        model,
        tokens: s!.tokens,
        requests: s!.requests,
        seed: s!.seed,
        skew: s!.skew ?? 0.8,
        ...(s!.lookahead ? { lookahead: s!.lookahead } : {})
      })
    } else {
      // The realistic generator with the model preset's parameters; `lookahead` sets depth and curve.
      const base = withLookahead(presetParams(model.name), s!.lookahead?.depth ?? 0)
      const params =
        s!.lookahead && base.lookahead ? { ...base, lookahead: { ...s!.lookahead, depth: base.lookahead.depth } } : base
      trace = generateTrace(params, { tokens: s!.tokens, requests: s!.requests, seed: s!.seed })
    }
    cache.set(key, trace)
  }
  return trace
}

/** The name a trace entry gets in result records. */
export const traceName = (t: TraceSpec): string => t.id
