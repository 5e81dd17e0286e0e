/**
 * One simulation run, from loaded inputs to a result record. Plain TypeScript: the CLI, sweeps
 * and tests all call this.
 */
import { buildAccessStream, type AccessStream, type StreamOptions } from "../traces/batching.ts"
import { type Accounting, DEFAULT_ACCOUNTING, type Trace } from "../traces/trace.ts"
import { parsePolicySpec, type PolicySpec } from "../policies/spec.ts"
import { checkSpec, evictionPolicies, makeEviction, predictors, prefetchers } from "../policies/registry.ts"
import { crossFit, separateTrace, type Training } from "../policies/training.ts"
import type { Predictor } from "../policies/predictor.ts"
import type { OnnxRoutes } from "../policies/onnxRoutes.ts"
import { popularKeys } from "../policies/pinned.ts"
import { parseSchedulerArgs, scheduleTokens, type Schedule } from "../policies/tokenScheduler.ts"
import { makeGeometry, type CacheGeometry, type CacheSize } from "../policies/cacheGeometry.ts"
import { replayCacheOnly } from "../sim/cacheOnly.ts"
import { runTimed, type TimedCounts } from "../sim/engine.ts"
import { InputError, UsageError } from "../base/errors.ts"
import { computeNextUse } from "../policies/nextUse.ts"
import {
  expertBytes,
  expertBytesByLayer,
  residentBytes,
  type HardwareProfile,
  type ModelProfile
} from "../base/profiles.ts"
import { residencyAgreement } from "./recordedResidency.ts"
import { oneTokenWorkingSet } from "../traces/stats.ts"
import { frac, frac0, type PolicyDetail, type ResultRecord, type RunIdentity } from "../sim/result.ts"
import { Timeline } from "../sim/timeline.ts"
import type { CommandLog } from "../sim/commandLog.ts"
import { makeTiming } from "../sim/timing.ts"
import { predictAhead } from "./predictAhead.ts"
import { scheduleAhead } from "./scheduleAhead.ts"
import { trainAhead } from "./trainAhead.ts"
import type { PredictorInputs } from "./workerRelay.ts"
import { TOOL_VERSION } from "../base/version.ts"

export type Mode = "cache-only" | "timed"

export interface SimulationInput {
  readonly trace: Trace
  readonly traceName: string
  readonly model: ModelProfile
  readonly hardware: HardwareProfile
  readonly policy: string
  readonly mode: Mode
  /**
   * Exactly one of: cacheSlots (experts, uniform sizes), cacheBytes (the expert cache's byte
   * budget), gpuMemBytes (GPU memory; the expert cache gets what the resident weights leave).
   */
  readonly cacheSlots?: number
  readonly cacheBytes?: number
  readonly gpuMemBytes?: number
  /** List every row whose simulated residency differs from the trace's recorded verdict. */
  readonly explain?: boolean
  /** Called as a timed replay advances (steps done, steps in all): progress for long runs. */
  readonly onProgress?: (done: number, total: number) => void
  readonly batch: number
  /** Partition slots per layer, unless the policy spec sets layout=. */
  readonly perLayer: boolean
  readonly seed: number
  readonly train?: { readonly trace: Trace; readonly name: string }
  readonly timeline: boolean
  /** Record every decision as commands for a hardware executor (timed mode). */
  readonly commands?: boolean
  /** The decisions of the spec's ONNX predictor (`predictor=onnx:FILE`), from workflows/runOnnxPredictor.ts. */
  readonly onnx?: OnnxRoutes
  /**
   * Compute a learned predictor's answers on a second thread while the replay runs, when the
   * prefetcher's predictions are static (predictAhead.ts), else train its last fold there if it
   * trains per fold (trainAhead.ts); and schedule half of EF-H's units there (scheduleAhead.ts):
   * same decisions, less wall time where a core is spare. The worker reads the trace and stream
   * where they were loaded (shared memory). Sweeps leave it off (their workers fill the cores).
   */
  readonly predictAhead?: boolean
}

export interface SimulationOutput {
  readonly record: ResultRecord
  readonly timeline: Timeline | null
  readonly commands?: CommandLog
}

export function checkTraceMatchesModel(t: Trace, m: ModelProfile, file: string): void {
  for (const [field, want] of [
    ["layers", m.layers],
    ["experts", m.experts],
    ["topK", m.topK]
  ] as const) {
    if (t.model[field] !== want)
      throw new InputError(file, "header", `model.${field}`, `trace has ${t.model[field]}, model ${m.id} has ${want}`)
  }
}

interface Workload {
  stream: AccessStream
  schedule: Schedule | null
  training: Training
}

/** Steps (continuous batching, or EF-H's token scheduler) and the training data for learned parts. */
function workload(spec: PolicySpec, inp: SimulationInput, options: StreamOptions): Workload {
  if (spec.scheduler === "ts") {
    const { paths } = parseSchedulerArgs(spec.schedulerArgs, spec.text)
    const schedule = (inp.predictAhead ? scheduleAhead : scheduleTokens)(inp.trace, inp.batch, paths, inp.traceName)
    const stream = buildAccessStream(inp.trace, inp.batch, schedule, options)
    // Cross-fit at a unit boundary, so a unit's two batches share a fold.
    const half = schedule.unitStart[Math.floor(schedule.unitStart.length / 2)] ?? 0
    return { stream, schedule, training: training(inp, stream, options, half) }
  }
  const stream = buildAccessStream(inp.trace, inp.batch, undefined, options)
  return { stream, schedule: null, training: training(inp, stream, options) }
}

function training(inp: SimulationInput, stream: AccessStream, options: StreamOptions, half?: number): Training {
  if (!inp.train) return crossFit(stream, inp.trace, half)
  checkTraceMatchesModel(inp.train.trace, inp.model, inp.train.name)
  return separateTrace(
    buildAccessStream(inp.train.trace, inp.batch, undefined, options),
    inp.train.trace,
    inp.train.name
  )
}

/**
 * The accounting a run uses: the spec's words, else the recording engine's rules (route traces),
 * else the defaults. The timed engine evicts at insertion (a layer's experts are pinned while it
 * runs, the GPU's own constraint), so there only `prefill` applies; a spec that asks for more is
 * refused rather than ignored.
 */
function accountingOf(spec: PolicySpec, t: Trace, mode: Mode): Accounting {
  const recorded = t.engine?.accounting ?? DEFAULT_ACCOUNTING
  const a: Accounting = {
    evict: spec.evict ?? recorded.evict,
    duplicates: spec.duplicates ?? recorded.duplicates,
    prefill: spec.prefill ?? recorded.prefill
  }
  if (mode === "cache-only") return a
  if (spec.evict === "batch" || spec.duplicates === "refresh")
    throw new UsageError(
      `policy spec '${spec.text}': evict=batch and dup=refresh are cache-only accounting; the timed engine ` +
        "evicts at insertion with the layer's experts pinned (use --mode cache-only)"
    )
  return { evict: "insert", duplicates: "first", prefill: a.prefill }
}

/**
 * A model known only from a trace's header: its shape and, from a recording engine, its expert
 * bytes. Enough for a cache-only replay; timed mode asks for the compute dimensions (--model).
 */
export function modelFromTrace(t: Trace): ModelProfile {
  const from = "the trace header"
  return {
    id: t.model.name,
    name: t.model.name,
    layers: t.model.layers,
    experts: t.model.experts,
    topK: t.model.topK,
    sharedExperts: 0,
    hiddenSize: 0,
    expertIntermediateSize: 0,
    expertMatrices: 0,
    sharedExpertIntermediateSize: 0,
    bytesPerParam: 2,
    nonExpertParamsPerLayer: 0,
    residentParams: 0,
    ...(t.engine ? { expertBytesPerLayer: t.engine.expertBytes } : {}),
    sources: {
      layers: from,
      experts: from,
      topK: from,
      bytesPerParam: "unknown (no compute dimensions): cache-only replays need none",
      ...(t.engine ? { expertBytesPerLayer: from } : {})
    }
  }
}

/** The model with the recording engine's own expert sizes, when the trace gives them. */
function withTraceBytes(m: ModelProfile, t: Trace): ModelProfile {
  if (!t.engine) return m
  return {
    ...m,
    expertBytesPerLayer: t.engine.expertBytes,
    sources: { ...m.sources, expertBytesPerLayer: "the trace header (the recording engine's model file)" }
  }
}

/** The cache size in the geometry's terms; a byte budget over one expert size is a slot count. */
function cacheSizeOf(inp: SimulationInput, m: ModelProfile, L: number, E: number): CacheSize {
  if (inp.cacheSlots !== undefined) {
    if (inp.cacheSlots > L * E)
      throw new InputError(
        "--cache-slots",
        `value ${inp.cacheSlots}`,
        "cache-slots",
        `more than the model's ${L * E} experts (${L} layers × ${E}); every expert fits at ${L * E}`
      )
    return { slots: inp.cacheSlots }
  }
  const flag = inp.cacheBytes !== undefined ? "--cache-bytes" : "--gpu-mem"
  const bytes = inp.cacheBytes ?? (inp.gpuMemBytes ?? 0) - residentBytes(m)
  const byLayer = expertBytesByLayer(m)
  if (!(bytes >= Math.min(...byLayer)))
    throw new InputError(
      flag,
      `value ${inp.cacheBytes ?? inp.gpuMemBytes}`,
      flag.slice(2),
      inp.cacheBytes !== undefined
        ? `smaller than one expert (${Math.min(...byLayer)} B)`
        : `no room for any expert after ${m.id}'s resident weights (${residentBytes(m)} B)`
    )
  // More memory than the whole model's experts: every expert fits, nothing is ever evicted.
  if (byLayer.every((b) => b === byLayer[0])) return { slots: Math.min(Math.floor(bytes / byLayer[0]!), L * E) }
  return { bytes, bytesOfLayer: byLayer }
}

/** What a run checks before it replays anything (a sweep checks every cell this way first). */
function checkInputs(inp: SimulationInput): { spec: PolicySpec; model: ModelProfile; accounting: Accounting } {
  const spec = parsePolicySpec(inp.policy)
  checkSpec(spec)
  checkTraceMatchesModel(inp.trace, inp.model, inp.traceName)
  if (!Number.isInteger(inp.batch) || inp.batch < 1)
    throw new InputError("--batch", `value ${inp.batch}`, "batch", "must be a positive integer")
  if (inp.mode === "timed" && inp.model.hiddenSize === 0)
    throw new UsageError(
      `timed mode needs the model's compute dimensions: pass --model (a preset or profile JSON); ` +
        `the trace header of ${inp.traceName} gives only expert bytes`
    )
  if (
    inp.mode === "cache-only" &&
    (spec.prefetch !== "none" || spec.scheduler !== "none" || !evictionPolicies[spec.cache]!.cacheOnly)
  )
    throw new UsageError(
      `cache-only mode replays a plain eviction policy (lru, lfu, fifo, belady); '${spec.text}' needs --mode timed`
    )
  return { spec, model: withTraceBytes(inp.model, inp.trace), accounting: accountingOf(spec, inp.trace, inp.mode) }
}

const layoutOf = (spec: PolicySpec, inp: SimulationInput): boolean =>
  spec.layout === null ? inp.perLayer : spec.layout === "per-layer"

/**
 * Every check of `simulate` that can fail on the inputs, without replaying: the spec, the model
 * against the trace, the budget against every layer batch. (A token scheduler's regrouping is not
 * rebuilt here; its batches have the same width.)
 */
export function checkSimulation(inp: SimulationInput): void {
  const { spec, model, accounting } = checkInputs(inp)
  const key = `${inp.batch}:${accounting.prefill}`
  let streams = checkedStreams.get(inp.trace)
  if (!streams) {
    streams = new Map()
    checkedStreams.set(inp.trace, streams)
  }
  let stream = streams.get(key)
  if (!stream) {
    stream = buildAccessStream(inp.trace, inp.batch, undefined, { prefill: accounting.prefill })
    streams.set(key, stream)
  }
  makeGeometry(
    stream,
    cacheSizeOf(inp, model, stream.layers, stream.experts),
    layoutOf(spec, inp),
    inp.mode === "timed"
  )
}
/** Streams built by checks, per trace: a sweep checks many cells of one trace. */
const checkedStreams = new WeakMap<Trace, Map<string, AccessStream>>()

export function simulate(inp: SimulationInput): SimulationOutput {
  const { spec, model, accounting } = checkInputs(inp)
  const { stream, schedule, training } = workload(spec, inp, {
    prefill: accounting.prefill,
    lastUseOrder: accounting.duplicates === "refresh"
  })
  const L = stream.layers,
    E = stream.experts
  const perLayer = layoutOf(spec, inp)
  const geometry = makeGeometry(stream, cacheSizeOf(inp, model, L, E), perLayer, inp.mode === "timed")
  const pins = spec.cache === "pin" ? pinSets(spec, training, geometry, L, E, stream.steps) : null
  const eviction = makeEviction(
    spec.cache,
    spec.cacheArgs,
    stream,
    geometry,
    pins ? pins[0]!.mask : undefined,
    spec.text,
    // Blocking happens in timed replays and cache-only eviction after the batch; both report it.
    inp.mode === "timed" || accounting.evict === "batch"
  )
  const future = eviction.needsFuture ? computeNextUse(stream) : null
  const eBytes = expertBytes(model)
  const tokens = inp.trace.tokens
  const defaultAccounting =
    accounting.evict === DEFAULT_ACCOUNTING.evict &&
    accounting.duplicates === DEFAULT_ACCOUNTING.duplicates &&
    accounting.prefill === DEFAULT_ACCOUNTING.prefill
  const budget = geometry.budgetBytes ?? inp.cacheBytes
  const extras = {
    ...(budget !== undefined
      ? {
          cache_bytes: budget,
          working_set_bytes: oneTokenWorkingSet(expertBytesByLayer(model), inp.trace.model.topK)
        }
      : {}),
    ...(defaultAccounting ? {} : { accounting: { ...accounting } })
  }
  const base: RunIdentity = {
    tool: "expertflow",
    version: TOOL_VERSION,
    trace: inp.traceName,
    model: inp.model.id,
    hardware: inp.hardware.id,
    policy: spec.text,
    mode: inp.mode,
    seed: inp.seed,
    batch_size: inp.batch,
    cache_slots: geometry.slots,
    cache_layout: perLayer ? "per-layer" : "unified",
    expert_bytes: eBytes
  }
  if (inp.mode === "cache-only") {
    const recorded = inp.trace.residency !== undefined
    const r = replayCacheOnly(stream, geometry, eviction, future ? future.next : null, accounting, recorded)
    const loadedBytes = geometry.unitOfLayer ? r.loadedUnits : r.misses * eBytes
    const record: ResultRecord = {
      ...base,
      predictor_training: null,
      steps: stream.steps,
      tokens,
      unknown_token_layers: stream.unknownCells,
      accesses: stream.accesses,
      hits: r.hits,
      late_hits: 0,
      misses: r.misses,
      hit_rate: frac0(r.hits, stream.accesses),
      per_layer_hit_rate: Array.from(r.layerHits, (h, l) => frac0(h, r.layerAccesses[l]!)),
      total_ns: 0,
      compute_ns: 0,
      stall_ns: 0,
      host_ns: 0,
      stall_fraction: 0,
      bytes_h2d: loadedBytes,
      transfers_h2d: r.misses,
      demand_loads: r.misses,
      link_utilization: 0,
      tokens_per_s: 0,
      peak_expert_bytes: geometry.unitOfLayer ? r.peakUnits : r.peakUnits * eBytes,
      prefetches_issued: 0,
      prefetches_used: 0,
      prefetches_wasted: 0,
      prefetches_dropped: 0,
      prefetch_precision: null,
      prefetch_recall: null,
      prediction_precision: null,
      prediction_recall: null,
      b_acc: null,
      policy_detail: {},
      ...extras,
      ...(recorded
        ? { recorded_residency: residencyAgreement(inp.trace, stream, r.hitOfAccess!, inp.explain === true) }
        : {})
    }
    return { record, timeline: null }
  }
  const prefetchContext = { layers: L, experts: E, topK: inp.model.topK, slots: geometry.slots }
  const prefetcher = prefetchers[spec.prefetch]!(spec.prefetchArgs, prefetchContext, spec.text)
  // What a worker thread builds the predictor from.
  const inputs: PredictorInputs | null =
    spec.predictor === null
      ? null
      : {
          stream,
          trace: inp.trace,
          traceName: inp.traceName,
          training: { description: training.description, folds: training.folds, split: training.split },
          predictor: spec.predictor,
          predictorArgs: spec.predictorArgs,
          top: spec.top
        }
  // A learned predictor behind static predictions (the others cost the replay little).
  const ahead =
    inp.predictAhead && inputs && predictors[inputs.predictor]!.learned && prefetcher?.staticPredictions
      ? predictAhead({
          ...inputs,
          prefetch: spec.prefetch,
          prefetchArgs: spec.prefetchArgs,
          prefetchContext,
          specText: spec.text
        })
      : null
  let predictor: Predictor | null = ahead?.predictor ?? null
  const timeline = inp.timeline ? new Timeline() : null
  const charge = schedule ? parseSchedulerArgs(spec.schedulerArgs, spec.text).charge : 0
  const commands: CommandLog | undefined = inp.commands ? { commands: [], preloaded: [] } : undefined
  // A predictor that trains per fold (EF-A's forest): its last fold on the second thread meanwhile,
  // taken when the replay reaches it (the worker stops after the replay, or at once on an error).
  const elsewhere =
    spec.predictor !== null && !ahead && inp.predictAhead && inputs && predictors[spec.predictor]!.trainFold
      ? trainAhead(inputs)
      : null
  let c: TimedCounts
  let predictorNote: string | undefined
  try {
    if (spec.predictor !== null && !ahead)
      predictor = predictors[spec.predictor]!.make({
        stream,
        trace: inp.trace,
        traceName: inp.traceName,
        top: spec.top,
        training,
        args: spec.predictorArgs,
        ...(inp.onnx ? { onnx: inp.onnx } : {}),
        ...(elsewhere ? { foldsElsewhere: elsewhere.folds } : {}),
        ...(elsewhere?.sharedBlocks ? { sharedBlocks: elsewhere.sharedBlocks } : {})
      })
    let hostNs: Float64Array | null = null
    if (schedule && charge !== 0) {
      hostNs = new Float64Array(stream.steps)
      schedule.decisionStart.forEach((s, d) => {
        hostNs![s] = charge === "measured" ? schedule.cpuNs[d]! : charge
      })
    }
    if (predictor?.hostNs) {
      hostNs ??= new Float64Array(stream.steps)
      for (let s = 0; s < stream.steps; s++) hostNs[s]! += predictor.hostNs(s)
    }
    c = runTimed({
      stream,
      geometry,
      timing: makeTiming(model, inp.hardware),
      eviction,
      future,
      predictor,
      prefetcher,
      copyEngines: inp.hardware.copyEngines,
      timeline,
      order: spec.order,
      hostNsBeforeStep: hostNs,
      ...(inp.onProgress ? { onProgress: inp.onProgress } : {}),
      ...(pins ? { pins } : {}),
      ...(commands ? { commands } : {})
    })
    // Read while the train-ahead worker is up: the note names every fold's rows, taking any fold
    // the replay did not reach.
    predictorNote = predictor?.note
  } finally {
    ahead?.close()
    elsewhere?.close()
  }
  const detail: PolicyDetail = {}
  if (predictorNote) detail.predictor_note = predictorNote
  if (c.streamedLoads > 0) detail.streamed_loads = c.streamedLoads
  if (spec.order !== "as-listed") detail.order = spec.order
  for (const [name, series] of c.traced) {
    const values = series.map((x) => x[2])
    detail[name] = {
      mean: stepWeightedMean(series, stream.steps * L, L),
      min: Math.min(...values),
      max: Math.max(...values),
      changes: series
    }
  }
  if (schedule) {
    const sorted = [...schedule.cpuNs].sort((x, y) => x - y)
    detail.scheduler = {
      decisions: schedule.decisions,
      activated_pairs_unscheduled: schedule.activatedBefore,
      activated_pairs_scheduled: schedule.activatedAfter,
      charged_ns_per_decision: charge === "measured" ? "measured" : charge,
      // Wall-clock CPU time differs between runs: reported only when it is charged as measured.
      ...(charge === "measured"
        ? { cpu_ns_median: sorted[Math.floor(sorted.length / 2)] ?? 0, deterministic: false }
        : {})
    }
  }
  if (pins) detail.pinned = pins.map((p) => ({ from_step: p.step, experts: p.keys.length }))
  const learned = spec.predictor !== null && predictors[spec.predictor]!.learned
  const record = {
    ...timedRecord(
      base,
      c,
      stream,
      tokens,
      geometry.unitOfLayer ? 1 : eBytes,
      inp.hardware.copyEngines,
      learned || pins ? training : null,
      detail
    ),
    ...extras
  }
  return commands ? { record, timeline, commands } : { record, timeline }
}

/** Static pinning: the pin set predicting each fold's steps comes from that fold's training data. */
function pinSets(spec: PolicySpec, training: Training, g: CacheGeometry, L: number, E: number, steps: number) {
  const fraction = Number(spec.cacheArgs[0] ?? 0.5)
  if (!(fraction > 0 && fraction <= 1)) throw new UsageError(`policy spec '${spec.text}': pin:F needs 0 < F ≤ 1`)
  const sets = training.folds.map((slices) => {
    const counts = new Float64Array(L * E)
    for (const { stream: a, from, to } of slices)
      for (let cell = from * L; cell < to * L; cell++) {
        for (let i = a.offsets[cell]!; i < a.offsets[cell + 1]!; i++) counts[(cell % L) * E + a.keys[i]!]!++
      }
    return popularKeys(counts, g.capacities, g.groupOfLayer, E, fraction, g.unitOfLayer)
  })
  // Fold f's pin set applies from its first step (the first set from step 0). A fold that
  // predicts no step (a 1-step trace) starts past the end, so it is never applied.
  const starts = sets.map((_, f) => {
    if (f === 0) return 0
    let s = 0
    while (s < steps && training.foldOf(s) !== f) s++
    return s
  })
  return sets.map((keys, f) => {
    const mask = new Uint8Array(L * E)
    for (const k of keys) mask[k] = 1
    return { step: starts[f]!, keys, mask }
  })
}

/** Mean of a traced value over all (step, layer) gates, each change holding until the next. */
function stepWeightedMean(series: Array<[number, number, number]>, gates: number, L: number): number {
  let sum = 0
  for (let i = 0; i < series.length; i++) {
    const from = series[i]![0] * L + series[i]![1]
    const to = i + 1 < series.length ? series[i + 1]![0] * L + series[i + 1]![1] : gates
    sum += series[i]![2] * (to - from)
  }
  const first = series[0] ? series[0][0] * L + series[0][1] : 0
  return Math.round((sum / Math.max(1, gates - first)) * 1000) / 1000
}

function timedRecord(
  base: RunIdentity,
  c: TimedCounts,
  stream: AccessStream,
  tokens: number,
  /** Bytes per cache unit: one expert's bytes (slots), or 1 (a byte budget). */
  eBytes: number,
  engines: number,
  training: Training | null,
  detail: PolicyDetail
): ResultRecord {
  return {
    ...base,
    predictor_training: training ? training.description : null,
    steps: stream.steps,
    tokens,
    unknown_token_layers: stream.unknownCells,
    accesses: c.accesses,
    hits: c.hits,
    late_hits: c.lateHits,
    misses: c.misses,
    hit_rate: frac0(c.hits, c.accesses),
    per_layer_hit_rate: Array.from(c.layerHits, (h, l) => frac0(h, c.layerAccesses[l]!)),
    total_ns: c.totalNs,
    compute_ns: c.computeNs,
    stall_ns: c.stallNs,
    host_ns: c.hostNs,
    stall_fraction: frac0(c.stallNs, c.totalNs),
    bytes_h2d: c.transferredUnits * eBytes,
    transfers_h2d: c.transfers,
    demand_loads: c.demandLoads,
    link_utilization: frac0(c.linkBusyNs, c.totalNs * engines),
    tokens_per_s: c.totalNs > 0 ? Math.round((tokens / (c.totalNs / 1e9)) * 1000) / 1000 : 0,
    peak_expert_bytes: c.peakSlots * eBytes,
    prefetches_issued: c.prefetchIssued,
    prefetches_used: c.prefetchUsed,
    prefetches_wasted: c.prefetchWasted,
    prefetches_dropped: c.prefetchDropped,
    prefetch_precision: frac(c.prefetchUsed, c.prefetchIssued),
    prefetch_recall: frac(c.prefetchUsed, c.prefetchUsed + c.misses),
    prediction_precision: frac(c.predictedCorrect, c.predictedTotal),
    prediction_recall: frac(c.predictedCorrect, c.actualTotal),
    b_acc: c.predictions > 0 ? frac(c.bAccSum, c.predictions) : null,
    policy_detail: detail
  }
}
