/**
 * Sweep files (JSON): traces (a file, or a seeded synthetic trace), hardware profiles, policy
 * specs, cache sizes and batch sizes; the sweep is their cross product, or the `cells` listed.
 *
 *   { "name": "default", "mode": "timed",
 *     "traces": [ { "id": "mixtral", "path": "../shared/traces/...jsonl", "model": "mixtral-8x7b" },
 *                 { "id": "qwen", "model": "qwen1.5-moe-a2.7b", "synthetic": { "tokens": 2000, "requests": 8, "seed":
 * 1 } } ],
 *     "hardware": ["h100-pcie"],
 *     "policies": ["cache=lru", { "label": "ef-a", "spec": "cache=two-level-lru,prefetch=adaptive,predictor=hybrid" }],
 *     "cache": [ { "slots": 64 }, { "bytes": "20GiB" }, { "fraction": 0.25 } ],
 *     "batch": [1] }
 *
 * Every problem in a file is reported at once, each with its path in the file; nothing runs.
 * Relative trace paths are resolved against the sweep file's folder.
 */
import { TOOL_VERSION } from "../base/version.ts"
import { existsSync } from "node:fs"
import { readInput } from "../base/readInput.ts"
import { dirname, resolve } from "node:path"
import { createHash } from "node:crypto"
import { Schema } from "effect"
import { InputError } from "../base/errors.ts"
import { hardwarePresetIds, modelPresetIds } from "../base/profiles.ts"
import { parsePolicySpec } from "../policies/spec.ts"
import { checkSpec } from "../policies/registry.ts"
import { parseBytes } from "../base/bytes.ts"
import { carriesModel } from "../traces/load.ts"

/** A preset id, or a preset's quantized variant (id@format). */
const knownModel = (id: string): boolean =>
  modelPresetIds().includes(id.includes("@") ? id.slice(0, id.lastIndexOf("@")) : id)

const PositiveInt = Schema.Int.check(Schema.isGreaterThan(0))
const TraceEntry = Schema.Struct({
  id: Schema.String,
  /** Model preset or profile; may be left out for a trace that carries its model (.eft, route trace). */
  model: Schema.optionalKey(Schema.String),
  path: Schema.optionalKey(Schema.String),
  /** Skip this trace (with a notice) when its file is absent, instead of failing. */
  optional: Schema.optionalKey(Schema.Boolean),
  synthetic: Schema.optionalKey(
    Schema.Struct({
      /** "realistic" (default: the model preset's generator parameters) or "zipf" (the simple generator). */
      generator: Schema.optionalKey(Schema.Literals(["realistic", "zipf"])),
      tokens: PositiveInt,
      requests: PositiveInt,
      seed: Schema.Int,
      skew: Schema.optionalKey(Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0))),
      lookahead: Schema.optionalKey(
        Schema.Struct({ depth: PositiveInt, a: Schema.Finite, b: Schema.Finite, c: Schema.Finite })
      )
    })
  )
})
const PolicyEntry = Schema.Union([Schema.String, Schema.Struct({ label: Schema.String, spec: Schema.String })])
const CacheEntry = Schema.Union([
  Schema.Struct({ slots: PositiveInt }),
  Schema.Struct({ bytes: Schema.Union([Schema.String, PositiveInt]) }),
  /** The expert cache's own byte budget (experts may differ in size by layer). */
  Schema.Struct({ cacheBytes: Schema.Union([Schema.String, PositiveInt]) }),
  Schema.Struct({ fraction: Schema.Finite.check(Schema.isGreaterThan(0), Schema.isLessThanOrEqualTo(1)) })
])
const CellEntry = Schema.Struct({
  trace: Schema.String,
  hardware: Schema.String,
  policy: Schema.String,
  cache: CacheEntry,
  batch: PositiveInt
})

export const SweepFileSchema = Schema.Struct({
  name: Schema.String,
  mode: Schema.optionalKey(Schema.Literals(["timed", "cache-only"])),
  seed: Schema.optionalKey(Schema.Int),
  traces: Schema.Array(TraceEntry),
  hardware: Schema.Array(Schema.String),
  policies: Schema.Array(PolicyEntry),
  cache: Schema.Array(CacheEntry),
  batch: Schema.optionalKey(Schema.Array(PositiveInt)),
  /** Run only these cells instead of the cross product (policy by label). */
  cells: Schema.optionalKey(Schema.Array(CellEntry))
})
export type SweepFile = typeof SweepFileSchema.Type
export type TraceSpec = typeof TraceEntry.Type
export type CacheSpec = typeof CacheEntry.Type

export interface Cell {
  readonly index: number
  /** Stable id: a hash of everything that determines the cell's result. */
  readonly id: string
  readonly trace: TraceSpec
  readonly hardware: string
  readonly policyLabel: string
  readonly policy: string
  readonly cache: CacheSpec
  readonly cacheLabel: string
  readonly batch: number
  readonly mode: "timed" | "cache-only"
  readonly seed: number
}

export interface SweepPlan {
  readonly name: string
  readonly file: string
  readonly cells: ReadonlyArray<Cell>
  /** Optional traces left out because their file is absent. */
  readonly skippedTraces: ReadonlyArray<string>
}

export const cacheLabel = (c: CacheSpec): string =>
  "slots" in c
    ? `${c.slots} slots`
    : "bytes" in c
      ? `${c.bytes} GPU memory`
      : "cacheBytes" in c
        ? `${c.cacheBytes} of experts`
        : `${Math.round(c.fraction * 1000) / 10}% of experts`

const policyOf = (p: typeof PolicyEntry.Type) => (typeof p === "string" ? { label: p, spec: p } : p)

/** Parse, check and expand a sweep file; every problem is listed with its path. */
export function planSweep(path: string, text = readInput(path, "utf8")): SweepPlan {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (e) {
    throw new InputError(path, "document", "(json)", (e as Error).message)
  }
  let f: SweepFile
  try {
    f = Schema.decodeUnknownSync(SweepFileSchema)(json, { errors: "all", onExcessProperty: "error" })
  } catch (e) {
    const lines = String((e as Error).message).split("\n")
    throw new SweepFileError(path, [...new Set(pairUp(lines))])
  }
  const problems: string[] = []
  const base = dirname(resolve(path))
  const skippedTraces = f.traces
    .filter((t) => t.optional === true && t.path !== undefined && !existsSync(resolve(base, t.path)))
    .map((t) => t.id)
  const traces = f.traces
    .filter((t) => !skippedTraces.includes(t.id))
    .map((t) => {
      const at = `traces[${f.traces.indexOf(t)}]`
      if (t.model === undefined) {
        if (t.path === undefined || (existsSync(resolve(base, t.path)) && !carriesModel(resolve(base, t.path))))
          problems.push(`${at}.model: needed (the trace does not carry its model's shape)`)
      } else if (!knownModel(t.model) && !existsSync(resolve(base, t.model)))
        problems.push(`${at}.model: unknown model '${t.model}' (presets: ${modelPresetIds().join(", ")})`)
      if ((t.path === undefined) === (t.synthetic === undefined))
        problems.push(`${at}: give exactly one of "path" or "synthetic"`)
      if (t.path !== undefined && !existsSync(resolve(base, t.path)))
        problems.push(`${at}.path: no such file: ${resolve(base, t.path)}`)
      return t.path !== undefined ? { ...t, path: resolve(base, t.path) } : t
    })
  const ids = new Set<string>()
  traces.forEach((t, i) => {
    if (ids.has(t.id)) problems.push(`traces[${i}].id: '${t.id}' used twice`)
    ids.add(t.id)
  })
  f.hardware.forEach((h, i) => {
    if (!hardwarePresetIds().includes(h) && !existsSync(resolve(base, h)))
      problems.push(`hardware[${i}]: unknown hardware '${h}' (presets: ${hardwarePresetIds().join(", ")})`)
  })
  const policies = f.policies.map(policyOf)
  policies.forEach((p, i) => {
    try {
      checkSpec(parsePolicySpec(p.spec))
    } catch (e) {
      problems.push(`policies[${i}]: ${(e as Error).message}`)
    }
  })
  const labels = new Set<string>()
  policies.forEach((p, i) => {
    if (labels.has(p.label)) problems.push(`policies[${i}].label: '${p.label}' used twice`)
    labels.add(p.label)
  })
  f.cache.forEach((c, i) => {
    const [field, value] = "bytes" in c ? ["bytes", c.bytes] : "cacheBytes" in c ? ["cacheBytes", c.cacheBytes] : []
    if (typeof value === "string") {
      try {
        parseBytes(value)
      } catch (e) {
        problems.push(`cache[${i}].${field}: ${(e as Error).message}`)
      }
    }
  })
  f.cells?.forEach((c, i) => {
    if (skippedTraces.includes(c.trace)) return
    if (!ids.has(c.trace)) problems.push(`cells[${i}].trace: no trace with id '${c.trace}'`)
    if (!labels.has(c.policy)) problems.push(`cells[${i}].policy: no policy labelled '${c.policy}'`)
    if (!f.hardware.includes(c.hardware)) problems.push(`cells[${i}].hardware: '${c.hardware}' is not in "hardware"`)
  })
  if (problems.length > 0) throw new SweepFileError(path, problems)
  const mode = f.mode ?? "timed"
  const seed = f.seed ?? 0
  const listed =
    f.cells?.filter((c) => !skippedTraces.includes(c.trace)) ??
    traces.flatMap((t) =>
      f.hardware.flatMap((hardware) =>
        policies.flatMap((p) =>
          f.cache.flatMap((cache) =>
            (f.batch ?? [1]).map((batch) => ({ trace: t.id, hardware, policy: p.label, cache, batch }))
          )
        )
      )
    )
  const cells = listed.map((c, index): Cell => {
    const trace = traces.find((t) => t.id === c.trace)!
    const policy = policies.find((p) => p.label === c.policy)!
    // The tool version is part of the id: a spec word may change meaning between versions (0.2.0:
    // predictor=hybrid became the RandomForest), and a resumed sweep must not reuse older results.
    const key = JSON.stringify([TOOL_VERSION, trace, c.hardware, policy.spec, c.cache, c.batch, mode, seed])
    return {
      index,
      id: createHash("sha256").update(key).digest("hex").slice(0, 16),
      trace,
      hardware: c.hardware,
      policyLabel: policy.label,
      policy: policy.spec,
      cache: c.cache,
      cacheLabel: cacheLabel(c.cache),
      batch: c.batch,
      mode,
      seed
    }
  })
  return { name: f.name, file: path, cells, skippedTraces }
}

/** All the problems of a sweep file, each with its path in the file. */
export class SweepFileError extends InputError {
  constructor(
    file: string,
    readonly problems: string[]
  ) {
    super(
      file,
      "document",
      problems.length === 1 ? problems[0]!.split(":")[0]! : "(several)",
      `${problems.length} problem(s):\n  ${problems.join("\n  ")}`
    )
  }
}

/** Schema messages come as "message" / "at [path]" line pairs: one "path: message" each. */
function pairUp(lines: string[]): string[] {
  const out: string[] = []
  for (let i = 0; i < lines.length; i++) {
    const next = lines[i + 1]?.trim()
    if (next?.startsWith("at ")) {
      out.push(`${next.slice(3)}: ${lines[i]!.trim()}`)
      i++
    } else if (lines[i]!.trim()) out.push(lines[i]!.trim())
  }
  return out
}
