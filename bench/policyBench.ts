/**
 * Policy benchmark (part of `npm run bench`): every policy of the README's baseline list and the
 * EF-A / EF-H specs, timed end to end through the CLI (`simulate --batch 8 --cache-slots 3712
 * --hw h100-sxm`) on the seeded DeepSeek-V3 Zipf trace (`trace gen --preset deepseek-v3
 * --generator zipf --skew 0.8 --requests 8 --seed 1`), plus cache-only LRU and Belady end to end
 * at batch 1 (policies reading the pre-gate get the same routes with lookahead d = 1, 2), and EF-H
 * with its token scheduler again on the same tokens in 32 requests, where it regroups. Prints
 * M accesses/s per policy, the slowest (and the slowest on the issue's trace, when that is another
 * row), and one JSON line. Runs take the CLI's defaults: on 2+ cores a learned predictor behind
 * fixed, window or path prefetch answers from a second thread (predict ahead), and the forest
 * behind adaptive prefetch trains its second fold there (train ahead).
 * Options: --tokens N (default 40000; the issue's trace), --timeout S per run (default 900),
 * --cli FILE (another build's CLI entry, e.g. a bundle of an older commit, to time that build),
 * --rounds N (each figure the median of N runs; default 1), --vs FILE (each run followed by the
 * same run of another build's CLI, so the two are paired: each row gets its median, the ratio, and
 * whether the two builds' results are the same, all but the version: a speed-up must not change a
 * decision).
 */
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync } from "node:fs"
import { join } from "node:path"
import { median } from "simple-statistics"
import { deepseekCacheOnlyArgs, deepseekSimulateArgs, deepseekTraceArgs, deepseekTraceFile } from "./deepseekTrace.ts"

const root = join(import.meta.dirname, "..")
const option = (name: string) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? process.argv[i + 1]! : null
}
const arg = (name: string, dflt: number) => Number(option(name) ?? dflt)
const tokens = arg("tokens", 40_000)
const timeoutS = arg("timeout", 900)
const rounds = arg("rounds", 1)
const cliEntry = option("cli") ?? join(root, "bin", "expertflow.js")
const vsEntry = option("vs")
const log = (s: string) => process.stderr.write(`${s}\n`)
const cli = (args: string[], entry = cliEntry) => {
  const t0 = performance.now()
  const r = spawnSync(process.execPath, [entry, ...args], {
    encoding: "utf8",
    timeout: timeoutS * 1000
  })
  return { ...r, seconds: (performance.now() - t0) / 1000 }
}
/** `rounds` runs (each followed by the --vs build's, when given): the last run, and median seconds. */
const timed = (args: string[]) => {
  const own: number[] = [],
    other: number[] = []
  let r = cli(args),
    theirs = ""
  for (let i = 0; i < rounds && r.status === 0; i++) {
    if (i > 0) r = cli(args)
    own.push(r.seconds)
    if (!vsEntry) continue
    const o = cli(args, vsEntry)
    other.push(o.seconds)
    theirs = o.status === 0 ? o.stdout : ""
  }
  const vs =
    other.length > 0
      ? {
          vs_seconds: median(other),
          ratio: median(own) / median(other),
          same_result: sansVersion(r.stdout) === sansVersion(theirs)
        }
      : {}
  return { r, seconds: own.length > 0 ? median(own) : r.seconds, vs }
}
/** A result record without the tool's version (the one field two builds may rightly differ in). */
const sansVersion = (stdout: string) => {
  try {
    return JSON.stringify({ ...JSON.parse(stdout), version: null })
  } catch {
    return null
  }
}
const vsText = (vs: { vs_seconds?: number; ratio?: number; same_result?: boolean }) =>
  vs.ratio === undefined
    ? ""
    : ` (vs ${vs.vs_seconds!.toFixed(2)} s: ${vs.ratio.toFixed(2)}x the time` +
      `${vs.same_result ? ", same result" : ", RESULTS DIFFER"})`

// Warm-up: a CLI rebuilds its cached bundle after a source change; no timed run should pay for it.
cli(["--version"])
if (vsEntry) cli(["--version"], vsEntry)
mkdirSync(join(root, ".cache"), { recursive: true })
/** The trace; with `lookahead` > 0 the same routes plus pre-gate picks for d = 1..lookahead. */
const traceFile = (lookahead: number, requests = 8) => {
  const file = deepseekTraceFile(root, tokens, lookahead, requests)
  if (existsSync(file)) return file
  const g = cli(deepseekTraceArgs(tokens, file, lookahead, requests))
  if (g.status !== 0) throw new Error(`trace gen failed: ${g.stderr}`)
  return file
}
const trace = traceFile(0)
// Pre-gated MoE / Cache-MoE read pre-gate picks: the same routes with lookahead d = 1, 2 (drawn
// after the routing, so every other policy sees the identical trace).
const traceWithLookahead = traceFile(2)
// With 8 requests at batch 8 every unit of EF-H's token scheduler is one batch, left as it is; its
// splitting is timed on 32 requests (each unit 16 requests, split into two batches of 8).
const SPLIT_REQUESTS = 32
const traceOfManyRequests = traceFile(0, SPLIT_REQUESTS)
const TS = "cache=plec,prefetch=path,predictor=route-path,scheduler=ts"

const POLICIES = [
  "cache=lru",
  "cache=lfu",
  "cache=lru,layout=per-layer,prefetch=fixed:1,predictor=pregate",
  "cache=lru,prefetch=fixed:1,predictor=prev-token",
  "cache=lru,prefetch=fixed:2,predictor=transition",
  "cache=ring,prefetch=window:2,predictor=all",
  "cache=lru,prefetch=window:2,predictor=eam",
  "cache=lru,prefetch=window:2,predictor=transition",
  "cache=pin:0.5",
  "cache=two-level-lru,prefetch=adaptive,predictor=transition",
  "cache=two-level-lru,prefetch=adaptive,predictor=hybrid,order=resident-first",
  "cache=plec,prefetch=path,predictor=route-path",
  TS,
  "cache=belady,prefetch=window:3,predictor=oracle",
  `${TS} @ ${SPLIT_REQUESTS} requests`
]

const rows: Array<{
  policy: string
  seconds: number | null
  maccess_per_s: number | null
  note?: string
  vs_seconds?: number
  ratio?: number
  same_result?: boolean
}> = []
for (const policy of POLICIES) {
  const [spec, requests] = policy.split(" @ ")
  const on = requests ? traceOfManyRequests : spec!.includes("pregate") ? traceWithLookahead : trace
  const { r, seconds, vs } = timed(deepseekSimulateArgs(on, spec!))
  if (r.status !== 0) {
    const note = r.error ? `did not finish in ${timeoutS} s` : r.stderr.trim().split("\n")[0]!
    rows.push({ policy, seconds: null, maccess_per_s: null, note })
    log(`${policy}: ${note}`)
    continue
  }
  const accesses = JSON.parse(r.stdout).accesses as number
  rows.push({ policy, seconds, maccess_per_s: accesses / seconds / 1e6, ...vs })
  log(`${policy}: ${seconds.toFixed(2)} s, ${(accesses / seconds / 1e6).toFixed(2)} M accesses/s${vsText(vs)}`)
}
const done = rows.filter((r) => r.maccess_per_s !== null)
// A policy that did not finish is slower than any that did; one that cannot run here is not timed.
const slowestOf = (rs: typeof rows) =>
  rs.find((r) => r.note?.startsWith("did not finish")) ??
  rs.filter((r) => r.maccess_per_s !== null).sort((a, b) => a.maccess_per_s! - b.maccess_per_s!)[0]
const slowestText = (r: (typeof rows)[number]) => `${r.policy} (${r.maccess_per_s?.toFixed(2) ?? r.note})`
const slowest = slowestOf(rows)!
// The same, without the rows on another trace (" @ N requests"): the figure a bar on the trace reads.
const slowestOnTrace = slowestOf(rows.filter((r) => !r.policy.includes(" @ ")))
log(`slowest: ${slowestText(slowest)}`)
if (slowestOnTrace && slowestOnTrace !== slowest) log(`slowest on the issue's trace: ${slowestText(slowestOnTrace)}`)
const cacheOnly = ["cache=lru", "cache=belady"].map((policy) => {
  const { r, seconds, vs } = timed(deepseekCacheOnlyArgs(trace, policy))
  const rec = JSON.parse(r.stdout) as { misses: number; accesses: number }
  const ratio = (rec.misses / rec.accesses).toFixed(4)
  log(`cache-only ${policy} end to end: ${seconds.toFixed(2)} s, miss ratio ${ratio}${vsText(vs)}`)
  return { policy, seconds, miss_ratio: rec.misses / rec.accesses, ...vs }
})
console.log(
  JSON.stringify({
    tokens,
    policies: rows,
    slowest: slowest.policy,
    slowest_on_trace: slowestOnTrace?.policy ?? null,
    finished: done.length,
    cacheOnly
  })
)
