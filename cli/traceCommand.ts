import { Argument, Command, Flag } from "effect/cli"
import { writeFileAtomic } from "../base/atomicWrite.mjs"
import { UsageError } from "../base/errors.ts"
import { loadModel } from "../base/profiles.ts"
import { encodeTrace } from "../traces/canonical.ts"
import { toLibCacheSimCsv } from "../traces/libcachesim.ts"
import { carriesModel, loadTrace, TRACE_FORMATS, type TraceFormat } from "../traces/load.ts"
import { formatStats, traceStats } from "../traces/stats.ts"
import { generateZipfTrace } from "../traces/synthetic.ts"
import type { TraceModel } from "../traces/trace.ts"
import { describe, generateChunks } from "../traces/generator.ts"
import { loadGeneratorParams, lookaheadDepthOf, presetParams, withLookahead } from "../traces/generatorParams.ts"
import { writeChunkedTrace } from "../traces/streamWriter.ts"
import { fitParams } from "../workflows/fit.ts"
import { compareTraces, formatComparison } from "../workflows/compare.ts"
import { action, opt } from "./action.ts"

const traceModel = (id: string | undefined): TraceModel | null => {
  if (id === undefined) return null
  const m = loadModel(id)
  return { name: m.id, layers: m.layers, experts: m.experts, topK: m.topK }
}
const modelFlag = Flag.optional(Flag.String("model")).pipe(
  Flag.withDescription("model preset or profile (needed for vLLM JSONL input, which does not carry its shape)")
)
const formatFlag = Flag.optional(Flag.Literals("trace-format", TRACE_FORMATS))
const needModel = (model: string | undefined, file: string, format: TraceFormat | undefined) => {
  if (model === undefined && !carriesModel(file, format))
    throw new UsageError(`${file}: vLLM JSONL traces need --model (layers, experts, top-k)`)
}

const importCmd = Command.make(
  "import",
  {
    file: Argument.String("file"),
    model: modelFlag,
    format: formatFlag,
    out: Flag.String("out").pipe(Flag.withDescription("canonical .eft output"))
  },
  (f) =>
    action(() => {
      needModel(opt(f.model), f.file, opt(f.format))
      const t = loadTrace(f.file, traceModel(opt(f.model)), opt(f.format))
      writeFileAtomic(f.out, encodeTrace(t))
      process.stdout.write(
        `wrote ${f.out}: ${t.tokens} tokens, ${t.model.layers} layers × ${t.model.experts} experts, ` +
          `top-${t.model.topK}\n`
      )
    })
).pipe(Command.withDescription("convert a routing log to the canonical .eft format"))

const statsCmd = Command.make(
  "stats",
  {
    file: Argument.String("file"),
    model: modelFlag,
    traceFormat: formatFlag,
    format: Flag.Literals("format", ["table", "json"] as const).pipe(Flag.withDefault("table" as const))
  },
  (f) =>
    action(() => {
      needModel(opt(f.model), f.file, opt(f.traceFormat))
      const s = traceStats(loadTrace(f.file, traceModel(opt(f.model)), opt(f.traceFormat)))
      process.stdout.write(f.format === "json" ? `${JSON.stringify(s)}\n` : formatStats(s))
    })
).pipe(Command.withDescription("routing statistics: popularity skew, reuse, transitions, gaps"))

const exportCmd = Command.make(
  "export",
  {
    file: Argument.String("file"),
    model: modelFlag,
    traceFormat: formatFlag,
    format: Flag.Literals("format", ["libcachesim-csv"] as const),
    out: Flag.String("out")
  },
  (f) =>
    action(() => {
      needModel(opt(f.model), f.file, opt(f.traceFormat))
      const t = loadTrace(f.file, traceModel(opt(f.model)), opt(f.traceFormat))
      writeFileAtomic(
        f.out,
        toLibCacheSimCsv(t).map((s) => Buffer.from(s))
      )
      process.stdout.write(`wrote ${f.out}\n`)
    })
).pipe(Command.withDescription("export the access stream for libCacheSim (key = layer·E + expert)"))

const genCmd = Command.make(
  "gen",
  {
    preset: Flag.String("preset").pipe(
      Flag.withDescription("model preset: its fitted generator parameters when shipped, else defaults")
    ),
    fit: Flag.optional(Flag.String("fit")).pipe(
      Flag.withDescription("generator parameters (trace fit --out) instead of the preset's")
    ),
    generator: Flag.Literals("generator", ["realistic", "zipf"] as const).pipe(
      Flag.withDefault("realistic" as const),
      Flag.withDescription("zipf: the simple per-layer Zipf generator")
    ),
    tokens: Flag.Int("tokens"),
    requests: Flag.Int("requests").pipe(Flag.withDefault(1)),
    skew: Flag.Finite("skew").pipe(Flag.withDefault(0.8), Flag.withDescription("Zipf exponent (zipf generator only)")),
    lookahead: Flag.Int("lookahead").pipe(
      Flag.withDefault(0),
      Flag.withDescription("record pre-gate lookahead for d = 1..D (accuracy curve from the parameters)")
    ),
    seed: Flag.Int("seed").pipe(Flag.withDefault(0)),
    out: Flag.String("out")
  },
  (f) =>
    action(() => {
      if (f.tokens < 1 || f.requests < 1) throw new UsageError("--tokens and --requests must be ≥ 1")
      if (f.lookahead < 0) throw new UsageError("--lookahead must be ≥ 0")
      if (f.generator === "zipf") {
        const t = generateZipfTrace({
          model: traceModel(f.preset)!,
          tokens: f.tokens,
          requests: f.requests,
          skew: f.skew,
          seed: f.seed
        })
        writeFileAtomic(f.out, encodeTrace(t))
        process.stdout.write(`wrote ${f.out}: ${t.source.description}\n`)
        return
      }
      traceModel(f.preset)
      const fitFile = opt(f.fit)
      const params = withLookahead(fitFile ? loadGeneratorParams(fitFile) : presetParams(f.preset), f.lookahead)
      const o = { tokens: f.tokens, requests: f.requests, seed: f.seed }
      const D = lookaheadDepthOf(params)
      const source = {
        kind: "synthetic",
        description: describe(params, o),
        recording: `generated by traces/generator.ts from ${params.source}`
      }
      writeChunkedTrace(f.out, params.model, source, f.tokens, D, params.prefillFraction > 0, generateChunks(params, o))
      process.stdout.write(`wrote ${f.out}: ${source.description}\n`)
    })
).pipe(Command.withDescription("generate a seeded synthetic trace (calibrated generator; streams to disk)"))

const fitCmd = Command.make(
  "fit",
  {
    file: Argument.String("real-trace"),
    model: modelFlag,
    traceFormat: formatFlag,
    out: Flag.String("out").pipe(Flag.withDefault("generator-params.json"))
  },
  (f) =>
    action(() => {
      needModel(opt(f.model), f.file, opt(f.traceFormat))
      const t = loadTrace(f.file, traceModel(opt(f.model)), opt(f.traceFormat))
      const p = fitParams(t, `fitted by expertflow trace fit to ${f.file}`)
      writeFileAtomic(f.out, `${JSON.stringify(p)}\n`)
      process.stdout.write(`wrote ${f.out}\n`)
    })
).pipe(Command.withDescription("fit the generator's parameters to a real trace"))

const compareCmd = Command.make(
  "compare",
  {
    a: Argument.String("trace-a"),
    b: Argument.String("trace-b"),
    model: modelFlag,
    format: Flag.Literals("format", ["table", "json"] as const).pipe(Flag.withDefault("table" as const))
  },
  (f) =>
    action(() => {
      const m = traceModel(opt(f.model))
      needModel(opt(f.model), f.a, undefined)
      needModel(opt(f.model), f.b, undefined)
      const c = compareTraces(loadTrace(f.a, m), loadTrace(f.b, m))
      process.stdout.write(f.format === "json" ? `${JSON.stringify(c)}\n` : formatComparison(c, [f.a, f.b]))
    })
).pipe(
  Command.withDescription(
    "two traces' cache-relevant statistics side by side (LRU miss-ratio curve, reuse, skew, transitions, gate weights)"
  )
)

export const traceCommand = Command.make("trace").pipe(
  Command.withDescription("import, inspect, export and generate routing traces"),
  Command.withSubcommands([importCmd, statsCmd, exportCmd, genCmd, fitCmd, compareCmd])
)
