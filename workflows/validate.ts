/**
 * `expertflow validate`: the same policies on the GPU and in the simulator, side by side.
 * For each (policy, cache size): the engine decides (with the calibrated profile) and records its
 * commands; the CUDA executor runs them; the simulator's and the GPU's records and timelines are
 * written, with the errors. `validate --measured DIR` re-simulates committed measurements without
 * a GPU, so CI notices when the simulator drifts away from what was measured.
 *
 * DIR/profile.json                    the calibrated hardware profile used
 * DIR/<config>/config.json            what was run (trace reference, model, policy, slots, batch, tokens)
 * DIR/<config>/{measured,simulated}.json              result records
 * DIR/<config>/{measured,simulated}.timeline.json     Chrome trace-event timelines (Perfetto)
 * DIR/comparison.json, DIR/comparison.md              the table
 */
import { createHash } from "node:crypto"
import { readInput } from "../base/readInput.ts"
import { existsSync, mkdirSync, readdirSync } from "node:fs"
import { join } from "node:path"
import { Effect } from "effect"
import { writeFileAtomic } from "../base/atomicWrite.mjs"
import { InputError } from "../base/errors.ts"
import { HardwareProfileSchema, loadModel, type HardwareProfile, type ModelProfile } from "../base/profiles.ts"
import type { CommandLog } from "../sim/commandLog.ts"
import { makeTiming } from "../sim/timing.ts"
import { runOnVirtualGpu } from "../hw/virtualGpu.ts"
import type { ResultRecord } from "../sim/result.ts"
import { decodeOrThrow } from "../base/schemaDecode.ts"
import { simulate } from "./simulate.ts"
import { toChromeTrace } from "../sim/timeline.ts"
import { traceOf } from "./workloads.ts"
import type { TraceSpec } from "./sweepFile.ts"
import { prefixTokens } from "../traces/trace.ts"
import { loadCudart } from "../hw/cudart.ts"
import { loadCublas } from "../hw/cublas.ts"
import { executeOnGpu } from "../hw/cudaExecutor.ts"
import { measure } from "../hw/measure.ts"
import { planExecution } from "../hw/plan.ts"

/** What "simulated time matches the GPU" means: issue #14's bounds, per regime. */
export const ERROR_BOUNDS = {
  total_error_median: 0.02,
  total_error_max: 0.05,
  stall_error_of_total_median: 0.02,
  stall_error_of_total_max: 0.05
}

export interface ValidateConfig {
  id: string
  trace: TraceSpec
  model: string
  policy: string
  slots: number
  batch: number
  tokens: number
}

export interface Comparison {
  id: string
  trace: string
  policy: string
  slots: number
  measured_total_ns: number
  simulated_total_ns: number
  total_error: number
  measured_stall_ns: number
  simulated_stall_ns: number
  stall_error_of_total: number
}

export interface Summary {
  configs: Comparison[]
  total_error_median: number
  total_error_max: number
  stall_error_of_total_median: number
  stall_error_of_total_max: number
  bounds: typeof ERROR_BOUNDS
  within_bounds: boolean
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2) : 0
}
const r6 = (x: number) => Math.round(x * 1e6) / 1e6

function simulateConfig(c: ValidateConfig, hw: HardwareProfile, commands: boolean) {
  const model = loadModel(c.model)
  const trace = prefixTokens(traceOf(c.trace), c.tokens)
  return simulate({
    trace,
    traceName: c.trace.id,
    model,
    hardware: hw,
    policy: c.policy,
    mode: "timed",
    cacheSlots: c.slots,
    batch: c.batch,
    perLayer: false,
    seed: 0,
    timeline: true,
    commands
  })
}

export function compare(c: ValidateConfig, measured: ResultRecord, simulated: ResultRecord): Comparison {
  return {
    id: c.id,
    trace: c.trace.id,
    policy: c.policy,
    slots: c.slots,
    measured_total_ns: measured.total_ns,
    simulated_total_ns: simulated.total_ns,
    total_error: r6(Math.abs(simulated.total_ns - measured.total_ns) / measured.total_ns),
    measured_stall_ns: measured.stall_ns,
    simulated_stall_ns: simulated.stall_ns,
    stall_error_of_total: r6(Math.abs(simulated.stall_ns - measured.stall_ns) / measured.total_ns)
  }
}

export function summarize(configs: Comparison[]): Summary {
  const s = {
    configs,
    total_error_median: r6(median(configs.map((c) => c.total_error))),
    total_error_max: r6(Math.max(0, ...configs.map((c) => c.total_error))),
    stall_error_of_total_median: r6(median(configs.map((c) => c.stall_error_of_total))),
    stall_error_of_total_max: r6(Math.max(0, ...configs.map((c) => c.stall_error_of_total))),
    bounds: ERROR_BOUNDS
  }
  return {
    ...s,
    within_bounds:
      s.total_error_median <= ERROR_BOUNDS.total_error_median &&
      s.total_error_max <= ERROR_BOUNDS.total_error_max &&
      s.stall_error_of_total_median <= ERROR_BOUNDS.stall_error_of_total_median &&
      s.stall_error_of_total_max <= ERROR_BOUNDS.stall_error_of_total_max
  }
}

export function comparisonMarkdown(s: Summary): string {
  const ms = (ns: number) => (ns / 1e6).toFixed(3)
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`
  return `${[
    "| config | trace | policy | slots | total measured (ms) | total simulated (ms) | error | stall measured (ms) " +
      "| stall simulated (ms) | stall error (of total) |",
    "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ...s.configs.map(
      (c) =>
        `| ${c.id} | ${c.trace} | \`${c.policy}\` | ${c.slots} | ${ms(c.measured_total_ns)} | ` +
        `${ms(c.simulated_total_ns)} | ${pct(c.total_error)} | ${ms(c.measured_stall_ns)} | ` +
        `${ms(c.simulated_stall_ns)} | ${pct(c.stall_error_of_total)} |`
    ),
    "",
    `Total-time error: median ${pct(s.total_error_median)} (bound ${pct(s.bounds.total_error_median)}), max ` +
      `${pct(s.total_error_max)} (bound ${pct(s.bounds.total_error_max)}); stall error of total, median ` +
      `${pct(s.stall_error_of_total_median)} (bound ${pct(s.bounds.stall_error_of_total_median)}), max ` +
      `${pct(s.stall_error_of_total_max)} (bound ${pct(s.bounds.stall_error_of_total_max)}): ` +
      `${s.within_bounds ? "within bounds" : "OUTSIDE the bounds"}.`
  ].join("\n")}\n`
}

export const configId = (c: Omit<ValidateConfig, "id">) =>
  createHash("sha256").update(JSON.stringify(c)).digest("hex").slice(0, 10)

/** What runs a plan: the CUDA executor, or (tests only) the ideal virtual GPU. */
export interface PlanRunner {
  readonly kind: "cuda" | "virtual"
  run(
    model: ModelProfile,
    log: CommandLog,
    plan: ReturnType<typeof planExecution>,
    slots: number
  ): Promise<{ eventNs: Float64Array; hostNsPerExpertOp: number; hostBuffers: number }>
}

export function cudaRunner(opts: { hostBytes: number; device: number }, signal?: AbortSignal): PlanRunner {
  const rt = loadCudart(),
    blas = loadCublas()
  return {
    kind: "cuda",
    run: (model, log, plan, slots) =>
      Effect.runPromise(executeOnGpu(rt, blas, model, log, plan, slots, opts), signal ? { signal } : undefined)
  }
}

/** Tests only: the ideal GPU of hw/virtualGpu.ts. Its records say executor "virtual": never a measurement. */
export function virtualRunner(hw: HardwareProfile): PlanRunner {
  return {
    kind: "virtual",
    run: async (model, _log, plan) => ({
      eventNs: runOnVirtualGpu(plan, makeTiming(model, hw)),
      hostNsPerExpertOp: 0,
      hostBuffers: 0
    })
  }
}

/** Run every configuration with `runner` and in the simulator; write DIR. */
export async function runValidation(
  configs: ValidateConfig[],
  hw: HardwareProfile,
  dir: string,
  runner: PlanRunner,
  device = 0
): Promise<Summary> {
  mkdirSync(dir, { recursive: true })
  writeFileAtomic(join(dir, "profile.json"), `${JSON.stringify(hw, null, 1)}\n`)
  const rows: Comparison[] = []
  for (const c of configs) {
    const sim = simulateConfig(c, hw, true)
    const model = loadModel(c.model)
    const plan = planExecution(sim.commands!, hw.copyEngines)
    const run = await runner.run(model, sim.commands!, plan, c.slots)
    const m = measure(plan, run.eventNs, model.layers, model.experts)
    const s = sim.record
    const measured: ResultRecord = {
      ...s,
      total_ns: m.totalNs,
      compute_ns: m.computeNs,
      stall_ns: m.stallNs,
      host_ns: 0,
      stall_fraction: m.totalNs > 0 ? r6(m.stallNs / m.totalNs) : 0,
      link_utilization: m.totalNs > 0 ? r6(m.linkBusyNs / (m.totalNs * hw.copyEngines)) : 0,
      tokens_per_s: m.totalNs > 0 ? Math.round((s.tokens / (m.totalNs / 1e9)) * 1000) / 1000 : 0,
      executor: {
        kind: runner.kind,
        host_ns_per_expert_op: Math.round(run.hostNsPerExpertOp),
        host_buffers: run.hostBuffers,
        device
      }
    }
    const d = join(dir, c.id)
    mkdirSync(d, { recursive: true })
    writeFileAtomic(join(d, "config.json"), `${JSON.stringify(c, null, 1)}\n`)
    writeFileAtomic(join(d, "simulated.json"), `${JSON.stringify(s)}\n`)
    writeFileAtomic(join(d, "measured.json"), `${JSON.stringify(measured)}\n`)
    writeFileAtomic(
      join(d, "simulated.timeline.json"),
      toChromeTrace(sim.timeline!, { process: `simulated: ${c.policy}`, copyEngines: hw.copyEngines })
    )
    writeFileAtomic(
      join(d, "measured.timeline.json"),
      toChromeTrace(m.timeline, { process: `measured: ${c.policy}`, copyEngines: hw.copyEngines })
    )
    rows.push(compare(c, measured, s))
  }
  const summary = summarize(rows)
  writeFileAtomic(join(dir, "comparison.json"), `${JSON.stringify(summary, null, 1)}\n`)
  writeFileAtomic(join(dir, "comparison.md"), comparisonMarkdown(summary))
  return summary
}

/** Re-simulate committed measurements (no GPU): each config with DIR/profile.json, against its measured record. */
export function revalidate(dir: string): Summary {
  const profileFile = join(dir, "profile.json")
  if (!existsSync(profileFile))
    throw new InputError(profileFile, "file", "path", "no profile.json: not a validate output folder")
  const hw = decodeOrThrow(HardwareProfileSchema, JSON.parse(readInput(profileFile, "utf8")), profileFile)
  const rows: Comparison[] = []
  for (const entry of readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort()) {
    const cfgFile = join(dir, entry, "config.json"),
      measFile = join(dir, entry, "measured.json")
    if (!existsSync(cfgFile) || !existsSync(measFile)) continue
    const c = JSON.parse(readInput(cfgFile, "utf8")) as ValidateConfig
    const measured = JSON.parse(readInput(measFile, "utf8")) as ResultRecord
    if (typeof measured.total_ns !== "number" || measured.total_ns <= 0)
      throw new InputError(measFile, "document", "total_ns", "missing or not positive")
    rows.push(compare(c, measured, simulateConfig(c, hw, false).record))
  }
  if (rows.length === 0)
    throw new InputError(dir, "folder", "configs", "no measured configurations (config.json + measured.json) found")
  return summarize(rows)
}
