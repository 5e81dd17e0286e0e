/**
 * Memory and time at scale (`npm run bench:scale`, minutes): a timed replay of a 1M-token
 * DeepSeek-V3 trace at batch 8 (`trace gen --preset deepseek-v3 --generator zipf --skew 0.8
 * --tokens 1000000 --requests 8 --seed 1`), on-demand LRU at 3712 slots, through the CLI. Prints
 * the generation and replay times and each process's peak RSS (GNU time's %M), and one JSON line.
 * Options: --tokens N (default 1000000), --policy SPEC (default cache=lru).
 */
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, statSync } from "node:fs"
import { join } from "node:path"
import { deepseekSimulateArgs, deepseekTraceArgs, deepseekTraceFile } from "./deepseekTrace.ts"

const root = join(import.meta.dirname, "..")
const argOf = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? process.argv[i + 1]! : dflt
}
const tokens = Number(argOf("tokens", "1000000"))
const policy = argOf("policy", "cache=lru")
const TIME = "/usr/bin/time"
if (!existsSync(TIME)) throw new Error(`${TIME} (GNU time) is needed to read the peak RSS`)

/** Run the CLI under GNU time: wall seconds and peak RSS (KiB) from its last stderr line. */
const timed = (args: string[]) => {
  const r = spawnSync(TIME, ["-f", "EF_TIME %e %M", process.execPath, join(root, "bin", "expertflow.js"), ...args], {
    encoding: "utf8",
    maxBuffer: 1 << 26
  })
  const line = r.stderr.split("\n").find((l) => l.startsWith("EF_TIME "))
  if (r.status !== 0 || !line) throw new Error(`expertflow ${args[0]} failed: ${r.stderr.trim().split("\n")[0]}`)
  const [, seconds, kib] = line.split(" ")
  return { seconds: Number(seconds), peakRssGiB: Number(kib) / 2 ** 20, stdout: r.stdout }
}

mkdirSync(join(root, ".cache"), { recursive: true })
const trace = deepseekTraceFile(root, tokens)
let gen = null
if (!existsSync(trace)) {
  gen = timed(deepseekTraceArgs(tokens, trace))
  process.stderr.write(`trace gen: ${gen.seconds} s, peak RSS ${gen.peakRssGiB.toFixed(2)} GiB\n`)
}
const run = timed(deepseekSimulateArgs(trace, policy))
const rec = JSON.parse(run.stdout) as { accesses: number; steps: number }
process.stderr.write(
  `${policy}, ${tokens} tokens, batch 8: ${run.seconds} s, ${(rec.accesses / run.seconds / 1e6).toFixed(2)} M ` +
    `accesses/s, peak RSS ${run.peakRssGiB.toFixed(2)} GiB ` +
    `(trace file ${(statSync(trace).size / 2 ** 30).toFixed(2)} GiB)\n`
)
console.log(
  JSON.stringify({
    tokens,
    policy,
    trace_bytes: statSync(trace).size,
    gen: gen && { seconds: gen.seconds, peak_rss_gib: gen.peakRssGiB },
    run: { seconds: run.seconds, peak_rss_gib: run.peakRssGiB, accesses: rec.accesses, steps: rec.steps }
  })
)
