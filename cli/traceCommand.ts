import { Argument, Command, Flag } from "effect/cli"
import { writeFileAtomic } from "../base/atomicWrite.mjs"
import { UsageError } from "../base/errors.ts"
import { loadModel } from "../base/profiles.ts"
import { encodeTrace } from "../traces/canonical.ts"
import { toLibCacheSimCsv } from "../traces/libcachesim.ts"
import { carriesModel, loadTrace, type TraceFormat } from "../traces/load.ts"
import { formatStats, traceStats } from "../traces/stats.ts"
import { generateZipfTrace } from "../traces/synthetic.ts"
import type { TraceModel } from "../traces/trace.ts"
import { describe, generateChunks } from "../traces/generator.ts"
import { loadGeneratorParams, lookaheadDepthOf, presetParams, withLookahead } from "../traces/generatorParams.ts"
import { writeChunkedTrace } from "../traces/streamWriter.ts"
import { fitParams } from "../workflows/fit.ts"
import { compareTraces, formatComparison } from "../workflows/compare.ts"
import { action, opt } from "./action.ts"
import { progressOf } from "./progress.ts"
import { defaulted, modelFlag as modelFlagOf, outputFormatFlag, seedFlag, traceFormatFlag } from "./flags.ts"

const traceModel = (id: string | undefined): TraceModel | null => {
  if (id === undefined) return null
  const m = loadModel(id)
  return { name: m.id, layers: m.layers, experts: m.experts, topK: m.topK }
}
const modelFlag = modelFlagOf("optional-for-self-describing")
const formatFlag = traceFormatFlag
const fileArg = (what: string) => Argument.String("file").pipe(Argument.withDescription(what))
const example = (command: string, description: string) => Command.withExamples([{ command, description }])
const MIXTRAL = "../shared/traces/mixtral-8x7b-vllm/humaneval_2_routing.jsonl"
const needModel = (model: string | undefined, file: string, format: TraceFormat | undefined) => {
  if (model === undefined && !carriesModel(file, format))
    throw new UsageError(`${file}: vLLM JSONL traces need --model (layers, experts, top-k)`)
}

const importCmd = Command.make(
  "import",
  {
    file: fileArg("the routing log: vLLM-style JSONL or a llama.cpp route_trace CSV"),
    model: modelFlag,
    format: formatFlag,
    out: Flag.String("out").pipe(Flag.withDescription("the canonical .eft file to write (required)"))
  },
  (f) =>
    action(() => {
      needModel(opt(f.model), f.file, opt(f.format))
      const t = loadTrace(f.file, traceModel(opt(f.model)), opt(f.format))
      writeFileAtomic(f.out, encodeTrace(t))
      process.stderr.write(
        `wrote ${f.out}: ${t.tokens} tokens, ${t.model.layers} layers × ${t.model.experts} experts, ` +
          `top-${t.model.topK}\n`
      )
    })
).pipe(
  Command.withDescription("convert a routing log to the canonical .eft format"),
  example(`expertflow trace import ${MIXTRAL} --model mixtral-8x7b --out mixtral.eft`, "JSONL → .eft")
)

const statsCmd = Command.make(
  "stats",
  {
    file: fileArg("the trace (.eft, JSONL, route trace)"),
    model: modelFlag,
    traceFormat: formatFlag,
    format: outputFormatFlag
  },
  (f) =>
    action(() => {
      needModel(opt(f.model), f.file, opt(f.traceFormat))
      const s = traceStats(loadTrace(f.file, traceModel(opt(f.model)), opt(f.traceFormat)))
      process.stdout.write(f.format === "json" ? `${JSON.stringify(s)}\n` : formatStats(s))
    })
).pipe(
  Command.withDescription(
    "routing statistics: popularity skew, reuse, transitions, gaps, a recording engine's hit rate"
  ),
  example(`expertflow trace stats ${MIXTRAL} --model mixtral-8x7b`, "skew, reuse and transitions per layer")
)

const exportCmd = Command.make(
  "export",
  {
    file: fileArg("the trace (.eft, JSONL, route trace)"),
    model: modelFlag,
    traceFormat: formatFlag,
    format: Flag.Literals("format", ["libcachesim-csv"] as const).pipe(
      defaulted<"libcachesim-csv">("libcachesim-csv", "the export format")
    ),
    out: Flag.String("out").pipe(Flag.withDescription("file to write, or - for stdout (required)"))
  },
  (f) =>
    action(() => {
      needModel(opt(f.model), f.file, opt(f.traceFormat))
      const t = loadTrace(f.file, traceModel(opt(f.model)), opt(f.traceFormat))
      writeFileAtomic(
        f.out,
        toLibCacheSimCsv(t).map((s) => Buffer.from(s))
      )
      if (f.out !== "-") process.stderr.write(`wrote ${f.out}\n`)
    })
).pipe(
  Command.withDescription("export the access stream for libCacheSim (key = layer·E + expert)"),
  example(`expertflow trace export ${MIXTRAL} --model mixtral-8x7b --out mixtral.csv`, "then libCacheSim's cachesim")
)

const genCmd = Command.make(
  "gen",
  {
    preset: Flag.String("preset").pipe(
      Flag.withDescription("model preset: its fitted generator parameters when shipped, else defaults (required)")
    ),
    fit: Flag.optional(Flag.String("fit")).pipe(
      Flag.withDescription("generator parameters (trace fit --out) instead of the preset's (default: the preset's)")
    ),
    generator: Flag.Literals("generator", ["realistic", "zipf"] as const).pipe(
      defaulted<"realistic" | "zipf">("realistic", "realistic: the calibrated generator; zipf: per-layer Zipf")
    ),
    tokens: Flag.Int("tokens").pipe(Flag.withDescription("tokens to generate (required)")),
    requests: Flag.Int("requests").pipe(defaulted(1, "requests the tokens are split into")),
    skew: Flag.Finite("skew").pipe(defaulted(0.8, "Zipf exponent (zipf generator only)")),
    lookahead: Flag.Int("lookahead").pipe(
      defaulted(0, "record pre-gate lookahead for d = 1..D (accuracy curve from the parameters)")
    ),
    seed: seedFlag,
    out: Flag.String("out").pipe(Flag.withDescription("the .eft file to write (required)"))
  },
  (f) =>
    action(async () => {
      if (f.tokens < 1 || f.requests < 1) throw new UsageError("--tokens and --requests must be ≥ 1")
      if (f.lookahead < 0) throw new UsageError("--lookahead must be ≥ 0")
      if (f.generator === "zipf") {
        const t = generateZipfTrace({
          model: traceModel(f.preset)!,
          tokens: f.tokens,
          requests: f.requests,
          skew: f.skew,
          seed: f.seed,
          // The same default accuracy curve as the realistic generator's (traces/generatorParams.ts).
          ...(f.lookahead > 0 ? { lookahead: { depth: f.lookahead, a: 0.5, b: 0.35, c: 0.3 } } : {})
        })
        writeFileAtomic(f.out, encodeTrace(t))
        process.stderr.write(`wrote ${f.out}: ${t.source.description}\n`)
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
      const progress = progressOf("trace gen", "tokens")
      const chunks = function* () {
        for (const c of generateChunks(params, o)) {
          yield c
          progress.onProgress?.(c.from + c.tokens, f.tokens)
        }
      }
      await writeChunkedTrace(f.out, params.model, source, f.tokens, D, params.prefillFraction > 0, chunks())
      process.stderr.write(`wrote ${f.out}: ${source.description}\n`)
    })
).pipe(
  Command.withDescription("generate a seeded synthetic trace (calibrated generator; streams to disk)"),
  example(
    "expertflow trace gen --preset deepseek-v3 --tokens 40000 --requests 8 --seed 1 --out ds.eft",
    "a DeepSeek-V3-sized trace, the same bytes for the same seed"
  )
)

const fitCmd = Command.make(
  "fit",
  {
    file: Argument.String("real-trace").pipe(Argument.withDescription("the recorded trace to fit")),
    model: modelFlag,
    traceFormat: formatFlag,
    out: Flag.String("out").pipe(defaulted("generator-params.json", "the generator parameters to write"))
  },
  (f) =>
    action(() => {
      needModel(opt(f.model), f.file, opt(f.traceFormat))
      const t = loadTrace(f.file, traceModel(opt(f.model)), opt(f.traceFormat))
      const p = fitParams(t, `fitted by expertflow trace fit to ${f.file}`)
      writeFileAtomic(f.out, `${JSON.stringify(p)}\n`)
      if (f.out !== "-") process.stderr.write(`wrote ${f.out}\n`)
    })
).pipe(
  Command.withDescription("fit the generator's parameters to a real trace"),
  example(`expertflow trace fit ${MIXTRAL} --model mixtral-8x7b --out params.json`, "then trace gen --fit params.json")
)

const compareCmd = Command.make(
  "compare",
  {
    a: Argument.String("trace-a").pipe(Argument.withDescription("the first trace")),
    b: Argument.String("trace-b").pipe(Argument.withDescription("the second trace")),
    model: modelFlag,
    format: outputFormatFlag
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
  ),
  example(`expertflow trace compare ${MIXTRAL} syn.eft --model mixtral-8x7b`, "a real trace against a generated one")
)

export const traceCommand = Command.make("trace").pipe(
  Command.withDescription("import, inspect, export and generate routing traces"),
  Command.withSubcommands([importCmd, statsCmd, exportCmd, genCmd, fitCmd, compareCmd])
)
