/**
 * Policy benchmark (part of `npm run bench`): every policy of the README's baseline list and the
 * EF-A / EF-H specs, timed end to end through the CLI (`simulate --batch 8 --cache-slots 3712
 * --hw h100-sxm`) on the seeded DeepSeek-V3 Zipf trace (`trace gen --preset deepseek-v3
 * --generator zipf --skew 0.8 --requests 8 --seed 1`), plus cache-only LRU and Belady end to end
 * at batch 1 (policies reading the pre-gate get the same routes with lookahead d = 1, 2). Prints
 * M accesses/s per policy, the slowest, and one JSON line.
 * Options: --tokens N (default 40000; the trace), --timeout S per run (default 900),
 * --cli FILE (another build's CLI entry, e.g. a bundle of an older commit, to compare builds).
 */
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync } from "node:fs"
import { join } from "node:path"
import { deepseekSimulateArgs, deepseekTraceArgs, deepseekTraceFile } from "./deepseekTrace.ts"

const root = join(import.meta.dirname, "..")
const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : dflt
}
const tokens = arg("tokens", 40_000)
const timeoutS = arg("timeout", 900)
const cliIndex = process.argv.indexOf("--cli")
const cliEntry = cliIndex > 0 ? process.argv[cliIndex + 1]! : join(root, "bin", "expertflow.js")
const log = (s: string) => process.stderr.write(`${s}\n`)
const cli = (args: string[]) => {
  const t0 = performance.now()
  const r = spawnSync(process.execPath, [cliEntry, ...args], {
    encoding: "utf8",
    timeout: timeoutS * 1000
  })
  return { ...r, seconds: (performance.now() - t0) / 1000 }
}

mkdirSync(join(root, ".cache"), { recursive: true })
/** The trace; with `lookahead` > 0 the same routes plus pre-gate picks for d = 1..lookahead. */
const traceFile = (lookahead: number) => {
  const file = deepseekTraceFile(root, tokens, lookahead)
  if (existsSync(file)) return file
  const g = cli(deepseekTraceArgs(tokens, file, lookahead))
  if (g.status !== 0) throw new Error(`trace gen failed: ${g.stderr}`)
  return file
}
const trace = traceFile(0)
// Pre-gated MoE / Cache-MoE read pre-gate picks: the same routes with lookahead d = 1, 2 (drawn
// after the routing, so every other policy sees the identical trace).
const traceWithLookahead = traceFile(2)

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
  "cache=plec,prefetch=path,predictor=route-path,scheduler=ts",
  "cache=belady,prefetch=window:3,predictor=oracle"
]

const rows: Array<{ policy: string; seconds: number | null; maccess_per_s: number | null; note?: string }> = []
for (const policy of POLICIES) {
  const r = cli(deepseekSimulateArgs(policy.includes("pregate") ? traceWithLookahead : trace, policy))
  if (r.status !== 0) {
    const note = r.error ? `did not finish in ${timeoutS} s` : r.stderr.trim().split("\n")[0]!
    rows.push({ policy, seconds: null, maccess_per_s: null, note })
    log(`${policy}: ${note}`)
    continue
  }
  const accesses = JSON.parse(r.stdout).accesses as number
  rows.push({ policy, seconds: r.seconds, maccess_per_s: accesses / r.seconds / 1e6 })
  log(`${policy}: ${r.seconds.toFixed(2)} s, ${(accesses / r.seconds / 1e6).toFixed(2)} M accesses/s`)
}
const done = rows.filter((r) => r.maccess_per_s !== null)
// A policy that did not finish is slower than any that did; one that cannot run here is not timed.
const timedOut = rows.filter((r) => r.note?.startsWith("did not finish"))
const slowest = timedOut[0] ?? [...done].sort((a, b) => a.maccess_per_s! - b.maccess_per_s!)[0]!
log(`slowest: ${slowest.policy} (${slowest.maccess_per_s?.toFixed(2) ?? slowest.note})`)
const cacheOnly = ["cache=lru", "cache=belady"].map((policy) => {
  const r = cli(
    ["simulate", "--trace", trace, "--model", "deepseek-v3", "--mode", "cache-only"].concat([
      "--cache-slots",
      "3712",
      "--policy",
      policy,
      "--format",
      "json"
    ])
  )
  const rec = JSON.parse(r.stdout) as { misses: number; accesses: number }
  log(
    `cache-only ${policy} end to end: ${r.seconds.toFixed(2)} s, miss ratio ${(rec.misses / rec.accesses).toFixed(4)}`
  )
  return { policy, seconds: r.seconds, miss_ratio: rec.misses / rec.accesses }
})
console.log(JSON.stringify({ tokens, policies: rows, slowest: slowest.policy, finished: done.length, cacheOnly }))
