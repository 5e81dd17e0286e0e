/**
 * Set-up benchmark (`npx tsx bench/setupBench.ts [--rounds N] [--vs ROOT]`): what a batched run
 * does before its replay, on the benchmarks' DeepSeek-V3 trace at batch 8, in-process: building
 * the access stream (every batched run), and EF-H's token scheduler over the whole trace in 32
 * requests (2,500 decisions of 16 decode tokens; with 8 requests every unit is one batch, nothing
 * to decide), on one thread and as a run with a spare core does it (half the units on a worker).
 * Each figure is the median of --rounds (default 5). With --vs, the
 * same calls from another tree's sources (e.g. a worktree of an older commit) run alternately with
 * these, and each row gets their median and the ratio. Prints one JSON line.
 */
import { existsSync } from "node:fs"
import { join } from "node:path"
import { median } from "simple-statistics"
import { loadTrace } from "../traces/load.ts"
import { deepseekTraceFile } from "./deepseekTrace.ts"

const root = join(import.meta.dirname, "..")
const arg = (name: string) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? process.argv[i + 1]! : null
}
const rounds = Number(arg("rounds") ?? 5)
const vs = arg("vs")
const load = (file: string) => {
  if (!existsSync(file)) throw new Error(`${file}: run bench/policyBench.ts first (it writes the trace)`)
  return loadTrace(file, null)
}
const file = deepseekTraceFile(root, 40_000)
const trace = load(file)
const manyFile = deepseekTraceFile(root, 40_000, 0, 32)
const manyRequests = load(manyFile)

/** The two set-up steps, from the sources under `tree`. */
async function steps(tree: string): Promise<Record<string, () => unknown>> {
  const { buildAccessStream } = await import(join(tree, "traces", "batching.ts"))
  const { scheduleTokens } = await import(join(tree, "policies", "tokenScheduler.ts"))
  // As a run with a spare core schedules: half the units on a worker (a tree without it: one thread).
  const aheadFile = join(tree, "workflows", "scheduleAhead.ts")
  const { scheduleAhead } = existsSync(aheadFile) ? await import(aheadFile) : { scheduleAhead: scheduleTokens }
  return {
    "access stream, batch 8": () => buildAccessStream(trace, 8),
    "token scheduler, batch 8, 32 requests": () => scheduleTokens(manyRequests, 8, "prev", manyFile),
    "token scheduler on two threads": () => scheduleAhead(manyRequests, 8, "prev", manyFile)
  }
}

const here = await steps(root)
const there = vs ? await steps(vs) : null
const ms = (fn: () => unknown) => {
  const t0 = performance.now()
  fn()
  return performance.now() - t0
}
const rows = Object.entries(here).map(([step, fn]) => {
  const now: number[] = [],
    before: number[] = []
  for (let r = 0; r < rounds; r++) {
    now.push(ms(fn))
    if (there) before.push(ms(there[step]!))
  }
  const row = {
    step,
    ms: median(now),
    ...(there ? { vs_ms: median(before), ratio: median(now) / median(before) } : {})
  }
  process.stderr.write(
    `${step}: ${row.ms.toFixed(0)} ms${there ? ` (vs ${row.vs_ms!.toFixed(0)} ms: ${row.ratio!.toFixed(2)}x)` : ""}\n`
  )
  return row
})
console.log(
  JSON.stringify({
    trace: file.slice(root.length + 1),
    scheduler_trace: manyFile.slice(root.length + 1),
    rounds,
    ...(vs ? { vs } : {}),
    rows
  })
)
