import { Flag, Command } from "effect/cli"
import { writeFileAtomic } from "../base/atomicWrite.mjs"
import { UsageError } from "../base/errors.ts"
import { loadHardware, loadModel } from "../base/profiles.ts"
import { formatTable } from "../sim/result.ts"
import { toChromeTrace } from "../sim/timeline.ts"
import { carriesModel, loadTrace, TRACE_FORMATS } from "../traces/load.ts"
import { modelFromTrace, simulate } from "../workflows/simulate.ts"
import { parseBytes } from "../base/bytes.ts"
import { action, opt } from "./action.ts"

export const simulateCommand = Command.make(
  "simulate",
  {
    trace: Flag.String("trace").pipe(
      Flag.withDescription("trace file (.eft, vLLM-style JSONL, or a llama.cpp route_trace CSV)")
    ),
    traceFormat: Flag.optional(Flag.Literals("trace-format", TRACE_FORMATS)).pipe(
      Flag.withDescription("override format detection")
    ),
    model: Flag.optional(Flag.String("model")).pipe(
      Flag.withDescription(
        "model preset id (quantized: id@int4-g128, id@hqq-4/3, id@fp8, …) or profile JSON; " +
          "optional when the trace carries its model (.eft, route trace; cache-only)"
      )
    ),
    hw: Flag.String("hw").pipe(
      Flag.withDefault("h100-pcie"),
      Flag.withDescription("hardware preset id or profile JSON")
    ),
    policy: Flag.String("policy").pipe(
      Flag.withDescription("policy spec, e.g. cache=lru,prefetch=fixed:2,predictor=transition")
    ),
    mode: Flag.Literals("mode", ["cache-only", "timed"] as const).pipe(Flag.withDefault("timed" as const)),
    cacheSlots: Flag.optional(Flag.Int("cache-slots")).pipe(
      Flag.withDescription("expert slots on the GPU (every expert one size)")
    ),
    cacheBytes: Flag.optional(Flag.String("cache-bytes")).pipe(
      Flag.withDescription("the expert cache's byte budget (e.g. 4000MiB); experts may differ in size by layer")
    ),
    gpuMem: Flag.optional(Flag.String("gpu-mem")).pipe(
      Flag.withDescription("GPU memory budget (e.g. 20GiB); slots = (budget - resident weights) / expert bytes")
    ),
    batch: Flag.Int("batch").pipe(Flag.withDefault(1), Flag.withDescription("continuous-batching width")),
    perLayer: Flag.Boolean("per-layer").pipe(
      Flag.withDefault(false),
      Flag.withDescription("partition slots evenly per layer")
    ),
    train: Flag.optional(Flag.String("train")).pipe(
      Flag.withDescription("training trace for learned predictors (default: 2-fold cross-fitting)")
    ),
    seed: Flag.Int("seed").pipe(Flag.withDefault(0)),
    explain: Flag.Boolean("explain").pipe(
      Flag.withDefault(false),
      Flag.withDescription("list every row where the replay disagrees with the trace's recorded residency")
    ),
    format: Flag.Literals("format", ["table", "json"] as const).pipe(Flag.withDefault("table" as const)),
    out: Flag.optional(Flag.String("out")).pipe(Flag.withDescription("also write the result record (JSON) here")),
    timeline: Flag.optional(Flag.String("timeline")).pipe(
      Flag.withDescription("write a Chrome trace-event timeline (Perfetto)")
    )
  },
  (f) =>
    action(() => {
      const slots = opt(f.cacheSlots),
        mem = opt(f.gpuMem),
        cacheBytes = opt(f.cacheBytes)
      if ([slots, mem, cacheBytes].filter((x) => x !== undefined).length !== 1)
        throw new UsageError("give exactly one of --cache-slots N, --cache-bytes BYTES or --gpu-mem BYTES")
      const modelName = opt(f.model)
      const hardware = loadHardware(f.hw)
      if (modelName === undefined && !carriesModel(f.trace, opt(f.traceFormat)))
        throw new UsageError(`--model is needed: ${f.trace} does not say its model's shape`)
      const trace = loadTrace(f.trace, modelName === undefined ? null : loadModel(modelName), opt(f.traceFormat))
      const model = modelName === undefined ? modelFromTrace(trace) : loadModel(modelName)
      const trainPath = opt(f.train)
      const timelinePath = opt(f.timeline)
      if (timelinePath && f.mode !== "timed") throw new UsageError("--timeline needs --mode timed")
      const { record, timeline } = simulate({
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
        ...(trainPath ? { train: { trace: loadTrace(trainPath, model), name: trainPath } } : {})
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
).pipe(Command.withDescription("replay a routing trace against a cache/prefetch policy"))
