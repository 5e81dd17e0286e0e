import { Argument, Command, Flag } from "effect/cli"
import { writeFileAtomic } from "../sim/atomicWrite.ts"
import { UsageError } from "../sim/errors.ts"
import { loadModel } from "../sim/profiles.ts"
import { encodeTrace } from "../traces/canonical.ts"
import { toLibCacheSimCsv } from "../traces/libcachesim.ts"
import { loadTrace, TRACE_FORMATS } from "../traces/load.ts"
import { formatStats, traceStats } from "../traces/stats.ts"
import { generateZipfTrace } from "../traces/synthetic.ts"
import type { TraceModel } from "../traces/trace.ts"
import { action, opt } from "./action.ts"

const traceModel = (id: string | undefined): TraceModel => {
  if (id === undefined) return { name: "unknown", layers: 0, experts: 0, topK: 0 }
  const m = loadModel(id)
  return { name: m.id, layers: m.layers, experts: m.experts, topK: m.topK }
}
const modelFlag = Flag.optional(Flag.String("model")).pipe(Flag.withDescription("model preset or profile (needed for JSONL input)"))
const formatFlag = Flag.optional(Flag.Literals("trace-format", TRACE_FORMATS))
const needModel = (model: string | undefined, file: string, format: string | undefined) => {
  if (model === undefined && (format ?? (file.endsWith(".eft") ? "eft" : "vllm-jsonl")) !== "eft") throw new UsageError("JSONL traces need --model (layers, experts, top-k)")
}

const importCmd = Command.make("import", {
  file: Argument.String("file"), model: Flag.String("model"), format: formatFlag,
  out: Flag.String("out").pipe(Flag.withDescription("canonical .eft output"))
}, (f) => action(() => {
  const t = loadTrace(f.file, traceModel(f.model), opt(f.format))
  writeFileAtomic(f.out, encodeTrace(t))
  process.stdout.write(`wrote ${f.out}: ${t.tokens} tokens, ${t.model.layers} layers × ${t.model.experts} experts, top-${t.model.topK}\n`)
})).pipe(Command.withDescription("convert a routing log to the canonical .eft format"))

const statsCmd = Command.make("stats", {
  file: Argument.String("file"), model: modelFlag, traceFormat: formatFlag,
  format: Flag.Literals("format", ["table", "json"] as const).pipe(Flag.withDefault("table" as const))
}, (f) => action(() => {
  needModel(opt(f.model), f.file, opt(f.traceFormat))
  const s = traceStats(loadTrace(f.file, traceModel(opt(f.model)), opt(f.traceFormat)))
  process.stdout.write(f.format === "json" ? JSON.stringify(s) + "\n" : formatStats(s))
})).pipe(Command.withDescription("routing statistics: popularity skew, reuse, transitions, gaps"))

const exportCmd = Command.make("export", {
  file: Argument.String("file"), model: modelFlag, traceFormat: formatFlag,
  format: Flag.Literals("format", ["libcachesim-csv"] as const), out: Flag.String("out")
}, (f) => action(() => {
  needModel(opt(f.model), f.file, opt(f.traceFormat))
  const t = loadTrace(f.file, traceModel(opt(f.model)), opt(f.traceFormat))
  writeFileAtomic(f.out, toLibCacheSimCsv(t).map((s) => Buffer.from(s)))
  process.stdout.write(`wrote ${f.out}\n`)
})).pipe(Command.withDescription("export the access stream for libCacheSim (key = layer·E + expert)"))

const genCmd = Command.make("gen", {
  preset: Flag.String("preset").pipe(Flag.withDescription("model preset (sets layers, experts, top-k)")),
  tokens: Flag.Int("tokens"), requests: Flag.Int("requests").pipe(Flag.withDefault(1)),
  skew: Flag.Finite("skew").pipe(Flag.withDefault(0.8), Flag.withDescription("Zipf exponent of per-layer popularity")),
  seed: Flag.Int("seed").pipe(Flag.withDefault(0)), out: Flag.String("out")
}, (f) => action(() => {
  if (f.tokens < 1 || f.requests < 1) throw new UsageError("--tokens and --requests must be ≥ 1")
  const t = generateZipfTrace({ model: traceModel(f.preset), tokens: f.tokens, requests: f.requests, skew: f.skew, seed: f.seed })
  writeFileAtomic(f.out, encodeTrace(t))
  process.stdout.write(`wrote ${f.out}: ${t.source.description}\n`)
})).pipe(Command.withDescription("generate a seeded synthetic trace (per-layer Zipf popularity)"))

export const traceCommand = Command.make("trace").pipe(
  Command.withDescription("import, inspect, export and generate routing traces"),
  Command.withSubcommands([importCmd, statsCmd, exportCmd, genCmd])
)
