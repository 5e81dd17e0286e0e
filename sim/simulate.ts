/**
 * One simulation run, from loaded inputs to a result record. Plain TypeScript: the CLI, sweeps
 * and tests all call this.
 */
import { buildAccessStream, type AccessStream } from "../traces/batching.ts"
import type { Trace } from "../traces/trace.ts"
import { parsePolicySpec, type PolicySpec } from "../policies/spec.ts"
import { checkSpec, evictionPolicies, predictors, prefetchers } from "../policies/registry.ts"
import { crossFit, separateTrace, type Training } from "../policies/training.ts"
import { makeGeometry } from "./cacheGeometry.ts"
import { replayCacheOnly } from "./cacheOnly.ts"
import { runTimed, type TimedCounts } from "./engine.ts"
import { InputError } from "./errors.ts"
import { computeNextUse } from "./nextUse.ts"
import { expertBytes, slotsForMemory, type HardwareProfile, type ModelProfile } from "./profiles.ts"
import { frac, frac0, type ResultRecord, type RunIdentity } from "./result.ts"
import { Timeline } from "./timeline.ts"
import { makeTiming } from "./timing.ts"
import { TOOL_VERSION } from "./version.ts"

export type Mode = "cache-only" | "timed"

export interface SimulationInput {
  readonly trace: Trace
  readonly traceName: string
  readonly model: ModelProfile
  readonly hardware: HardwareProfile
  readonly policy: string
  readonly mode: Mode
  /** Exactly one of cacheSlots / gpuMemBytes. */
  readonly cacheSlots?: number
  readonly gpuMemBytes?: number
  readonly batch: number
  readonly perLayer: boolean
  readonly seed: number
  readonly train?: { readonly trace: Trace; readonly name: string }
  readonly timeline: boolean
}

export interface SimulationOutput { readonly record: ResultRecord; readonly timeline: Timeline | null }

export function checkTraceMatchesModel(t: Trace, m: ModelProfile, file: string): void {
  for (const [field, want] of [["layers", m.layers], ["experts", m.experts], ["topK", m.topK]] as const) {
    if (t.model[field] !== want) throw new InputError(file, "header", `model.${field}`, `trace has ${t.model[field]}, model ${m.id} has ${want}`)
  }
}

export function simulate(inp: SimulationInput): SimulationOutput {
  const spec = parsePolicySpec(inp.policy)
  checkSpec(spec)
  checkTraceMatchesModel(inp.trace, inp.model, inp.traceName)
  if (!Number.isInteger(inp.batch) || inp.batch < 1) throw new InputError("--batch", `value ${inp.batch}`, "batch", "must be a positive integer")
  const slots = inp.cacheSlots ?? slotsForMemory(inp.model, inp.gpuMemBytes ?? 0)
  if (inp.cacheSlots === undefined && slots < 1) {
    throw new InputError("--gpu-mem", `value ${inp.gpuMemBytes}`, "gpu-mem", `no room for any expert after ${inp.model.id}'s resident weights`)
  }
  const stream = buildAccessStream(inp.trace, inp.batch)
  const L = stream.layers, E = stream.experts
  const geometry = makeGeometry(stream, Math.min(slots, L * E), inp.perLayer)
  const eviction = evictionPolicies[spec.cache]!({ numKeys: L * E, capacities: geometry.capacities }, spec.cacheArgs)
  const future = eviction.needsFuture ? computeNextUse(stream) : null
  const eBytes = expertBytes(inp.model)
  const tokens = inp.trace.tokens
  const base: RunIdentity = {
    tool: "expertflow", version: TOOL_VERSION, trace: inp.traceName, model: inp.model.id,
    hardware: inp.hardware.id, policy: spec.text, mode: inp.mode, seed: inp.seed, batch_size: inp.batch,
    cache_slots: geometry.slots, cache_layout: inp.perLayer ? "per-layer" : "unified",
    expert_bytes: eBytes
  }
  if (inp.mode === "cache-only") {
    if (spec.prefetch !== "none") throw new InputError("--mode", "cache-only", "policy", `cache-only mode replays the cache alone; '${spec.text}' prefetches: use --mode timed`)
    const r = replayCacheOnly(stream, geometry, eviction, future ? future.next : null)
    const record: ResultRecord = {
      ...base, predictor_training: null, steps: stream.steps, tokens, unknown_token_layers: stream.unknownCells,
      accesses: stream.accesses, hits: r.hits, late_hits: 0, misses: r.misses, hit_rate: frac0(r.hits, stream.accesses),
      per_layer_hit_rate: Array.from(r.layerHits, (h, l) => frac0(h, r.layerAccesses[l]!)),
      total_ns: 0, compute_ns: 0, stall_ns: 0, stall_fraction: 0,
      bytes_h2d: r.misses * eBytes, transfers_h2d: r.misses, demand_loads: r.misses, link_utilization: 0, tokens_per_s: 0,
      peak_expert_bytes: r.peakSlots * eBytes,
      prefetches_issued: 0, prefetches_used: 0, prefetches_wasted: 0, prefetches_dropped: 0,
      prefetch_precision: null, prefetch_recall: null, prediction_precision: null, prediction_recall: null, b_acc: null
    }
    return { record, timeline: null }
  }
  const { predictor, training } = makePredictor(spec, inp, stream)
  const prefetcher = prefetchers[spec.prefetch]!(spec.prefetchArgs, { layers: L, experts: E }, spec.text)
  const timeline = inp.timeline ? new Timeline() : null
  const c = runTimed({
    stream, geometry, timing: makeTiming(inp.model, inp.hardware), eviction, future,
    predictor, prefetcher, copyEngines: inp.hardware.copyEngines, timeline
  })
  return { record: timedRecord(base, c, stream, tokens, eBytes, inp.hardware.copyEngines, training), timeline }
}

function makePredictor(spec: PolicySpec, inp: SimulationInput, stream: AccessStream): { predictor: ReturnType<typeof predictors[string]["make"]> | null; training: Training | null } {
  if (spec.predictor === null) return { predictor: null, training: null }
  const info = predictors[spec.predictor]!
  let training: Training = crossFit(stream)
  if (inp.train) {
    checkTraceMatchesModel(inp.train.trace, inp.model, inp.train.name)
    training = separateTrace(buildAccessStream(inp.train.trace, inp.batch), inp.train.name)
  }
  const predictor = info.make({ stream, trace: inp.trace, top: spec.top, training, args: spec.predictorArgs })
  return { predictor, training: info.learned ? training : null }
}

function timedRecord(
  base: RunIdentity,
  c: TimedCounts, stream: AccessStream, tokens: number, eBytes: number, engines: number, training: Training | null
): ResultRecord {
  return {
    ...base, predictor_training: training ? training.description : null,
    steps: stream.steps, tokens, unknown_token_layers: stream.unknownCells,
    accesses: c.accesses, hits: c.hits, late_hits: c.lateHits, misses: c.misses, hit_rate: frac0(c.hits, c.accesses),
    per_layer_hit_rate: Array.from(c.layerHits, (h, l) => frac0(h, c.layerAccesses[l]!)),
    total_ns: c.totalNs, compute_ns: c.computeNs, stall_ns: c.stallNs, stall_fraction: frac0(c.stallNs, c.totalNs),
    bytes_h2d: c.transfers * eBytes, transfers_h2d: c.transfers, demand_loads: c.demandLoads,
    link_utilization: frac0(c.linkBusyNs, c.totalNs * engines),
    tokens_per_s: c.totalNs > 0 ? Math.round((tokens / (c.totalNs / 1e9)) * 1000) / 1000 : 0,
    peak_expert_bytes: c.peakSlots * eBytes,
    prefetches_issued: c.prefetchIssued, prefetches_used: c.prefetchUsed, prefetches_wasted: c.prefetchWasted,
    prefetches_dropped: c.prefetchDropped,
    prefetch_precision: frac(c.prefetchUsed, c.prefetchIssued), prefetch_recall: frac(c.prefetchUsed, c.prefetchUsed + c.misses),
    prediction_precision: frac(c.predictedCorrect, c.predictedTotal), prediction_recall: frac(c.predictedCorrect, c.actualTotal),
    b_acc: c.predictions > 0 ? frac(c.bAccSum, c.predictions) : null
  }
}
