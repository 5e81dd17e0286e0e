import { availableParallelism } from "node:os"
import { Flag, Command } from "effect/cli"
import { writeFileAtomic } from "../base/atomicWrite.mjs"
import { UsageError } from "../base/errors.ts"
import { loadHardware, loadModel } from "../base/profiles.ts"
import { formatTable } from "../sim/result.ts"
import { toChromeTrace } from "../sim/timeline.ts"
import { carriesModel, loadTrace } from "../traces/load.ts"
import type { Trace } from "../traces/trace.ts"
import { modelFromTrace, simulate } from "../workflows/simulate.ts"
import { onnxModelOf, onnxRoutesFor } from "../workflows/runOnnxPredictor.ts"
import { parseBytes } from "../base/bytes.ts"
import { action, opt } from "./action.ts"
import { defaulted, modelFlag, outputFormatFlag, seedFlag, traceFormatFlag } from "./flags.ts"
import { progressOf } from "./progress.ts"

export const simulateCommand = Command.make(
  "simulate",
  {
    trace: Flag.String("trace").pipe(
      Flag.withDescription("trace file: .eft, vLLM-style JSONL, or a llama.cpp route_trace CSV (required)")
    ),
    traceFormat: traceFormatFlag,
    model: modelFlag("optional-for-self-describing"),
    hw: Flag.String("hw").pipe(defaulted("h100-pcie", "hardware preset id or profile JSON (hw calibrate --out)")),
    policy: Flag.String("policy").pipe(
      Flag.withDescription("policy spec, e.g. cache=lru,prefetch=fixed:2,predictor=transition (required)")
    ),
    mode: Flag.Literals("mode", ["cache-only", "timed"] as const).pipe(
      defaulted<"cache-only" | "timed">("timed", "timed: transfers and compute in ns; cache-only: hits and misses")
    ),
    cacheSlots: Flag.optional(Flag.Int("cache-slots")).pipe(
      Flag.withDescription("expert slots on the GPU, every expert one size (one of the three budgets)")
    ),
    cacheBytes: Flag.optional(Flag.String("cache-bytes")).pipe(
      Flag.withDescription("the expert cache's byte budget, e.g. 4000MiB; sizes may differ by layer (one of the three)")
    ),
    gpuMem: Flag.optional(Flag.String("gpu-mem")).pipe(
      Flag.withDescription("GPU memory, e.g. 20GiB; the cache gets what resident weights leave (one of the three)")
    ),
    batch: Flag.Int("batch").pipe(defaulted(1, "continuous-batching width (sequences per step)")),
    perLayer: Flag.Boolean("per-layer").pipe(
      defaulted(false, "partition the cache per layer (else one pool; a spec's layout= wins)")
    ),
    train: Flag.optional(Flag.String("train")).pipe(
      Flag.withDescription("training trace for learned predictors (default: 2-fold cross-fitting on this trace)")
    ),
    seed: seedFlag,
    explain: Flag.Boolean("explain").pipe(
      defaulted(false, "list every row where the replay and the trace's recorded residency disagree")
    ),
    format: outputFormatFlag,
    out: Flag.optional(Flag.String("out")).pipe(
      Flag.withDescription("also write the result record (JSON) to this file, or - for stdout (default: none)")
    ),
    timeline: Flag.optional(Flag.String("timeline")).pipe(
      Flag.withDescription("write a Chrome trace-event timeline here, for Perfetto (default: none)")
    ),
    predictAhead: Flag.Literals("predict-ahead", ["auto", "on", "off"] as const).pipe(
      defaulted<"auto" | "on" | "off">(
        "auto",
        "a learned predictor behind fixed, window or path prefetch answers from a second thread (a forest " +
          "behind adaptive prefetch trains its second fold there; EF-H's token scheduler schedules half its " +
          "units there), same decisions (auto: with 2+ cores, on a " +
          "trace of 2M+ routing entries)"
      )
    )
  },
  (f) =>
    action(async () => {
      const slots = opt(f.cacheSlots),
        mem = opt(f.gpuMem),
        cacheBytes = opt(f.cacheBytes)
      if ([slots, mem, cacheBytes].filter((x) => x !== undefined).length !== 1)
        throw new UsageError("give exactly one of --cache-slots N, --cache-bytes BYTES or --gpu-mem BYTES")
      const modelName = opt(f.model)
      const hardware = loadHardware(f.hw)
      if (modelName === undefined && !carriesModel(f.trace, opt(f.traceFormat)))
        throw new UsageError(`--model is needed: ${f.trace} does not say its model's shape`)
      const trace = loadTrace(f.trace, modelName === undefined ? null : loadModel(modelName), opt(f.traceFormat), {
        weights: false
      })
      const model = modelName === undefined ? modelFromTrace(trace) : loadModel(modelName)
      const trainPath = opt(f.train)
      const timelinePath = opt(f.timeline)
      if (timelinePath && f.mode !== "timed") throw new UsageError("--timeline needs --mode timed")
      const onnxFile = onnxModelOf(f.policy)
      const onnx = onnxFile ? await onnxRoutesFor(onnxFile, trace, f.trace) : undefined
      const { record, timeline } = simulate({
        ...(onnx ? { onnx } : {}),
        ...progressOf("simulate", "steps"),
        trace,
        traceName: f.trace,
        model,
        hardware,
        policy: f.policy,
        mode: f.mode,
        ...(slots !== undefined
          ? { cacheSlots: slots }
          : cacheBytes !== undefined
            ? { cacheBytes: parseBytes(cacheBytes) }
            : { gpuMemBytes: parseBytes(mem!) }),
        explain: f.explain,
        batch: f.batch,
        perLayer: f.perLayer,
        seed: f.seed,
        timeline: timelinePath !== undefined,
        predictAhead: f.predictAhead === "on" || (f.predictAhead === "auto" && worthAThread(trace)),
        ...(trainPath
          ? { train: { trace: loadTrace(trainPath, model, undefined, { weights: false }), name: trainPath } }
          : {})
      })
      const json = `${JSON.stringify(record)}\n`
      const outPath = opt(f.out)
      if (outPath) writeFileAtomic(outPath, json)
      if (timelinePath && timeline)
        writeFileAtomic(
          timelinePath,
          toChromeTrace(timeline, { process: `${record.policy} @ ${record.trace}`, copyEngines: hardware.copyEngines })
        )
      process.stdout.write(f.format === "json" ? json : formatTable(record))
    })
).pipe(
  Command.withDescription("replay a routing trace against a cache/prefetch policy"),
  Command.withExamples([
    {
      command:
        "expertflow simulate --trace ../shared/traces/mixtral-8x7b-vllm/humaneval_2_routing.jsonl " +
        "--model mixtral-8x7b --policy cache=lru,prefetch=fixed:1,predictor=transition --cache-slots 128",
      description: "stall and hit rate of fixed-step prefetch on the real Mixtral trace"
    }
  ])
)

/**
 * Predict ahead by default where a core is spare and the run long enough: a worker's start (0.1 to
 * 0.16 s to its first answer on a tiny trace here) and its copy of the inputs would cost a short
 * run more than it saves.
 */
const worthAThread = (t: Trace): boolean =>
  availableParallelism() > 1 && t.tokens * t.model.layers * t.model.topK >= 2_000_000
