/** Traces named by sweep entries: a file, or a seeded synthetic trace. Cached per process. */
import { loadTrace } from "../traces/load.ts"
import { generateZipfTrace } from "../traces/synthetic.ts"
import type { Trace } from "../traces/trace.ts"
import { loadModel } from "./profiles.ts"
import type { TraceSpec } from "./sweepFile.ts"

const cache = new Map<string, Trace>()

export function traceOf(t: TraceSpec): Trace {
  const key = JSON.stringify(t)
  let trace = cache.get(key)
  if (!trace) {
    const m = loadModel(t.model)
    const model = { name: m.id, layers: m.layers, experts: m.experts, topK: m.topK }
    trace = t.path !== undefined
      ? loadTrace(t.path, model)
      : generateZipfTrace({ model, tokens: t.synthetic!.tokens, requests: t.synthetic!.requests, seed: t.synthetic!.seed, skew: t.synthetic!.skew ?? 0.8, ...(t.synthetic!.lookahead ? { lookahead: t.synthetic!.lookahead } : {}) })
    cache.set(key, trace)
  }
  return trace
}

/** The name a trace entry gets in result records. */
export const traceName = (t: TraceSpec): string => t.id
