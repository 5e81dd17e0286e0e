/**
 * Sweep and report benchmarks (part of `npm run bench`): a 200-cell sweep on the real Mixtral
 * trace and a 16-cell sweep whose cells take ≥ 1 s each (DeepSeek-V3 Zipf trace, batch 8), each
 * with 1 and with 2 workers (median of `runs` each, default 5; 3 for the heavy one), then the
 * default report's size and the time headless Chromium takes to load it with every chart. Prints
 * one JSON line.
 */
import { spawnSync } from "node:child_process"
import { existsSync, rmSync, statSync } from "node:fs"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { deepseekTraceArgs, deepseekTraceFile } from "./deepseekTrace.ts"

const root = process.cwd()
const runsAt = process.argv.indexOf("--runs")
const runs = runsAt > 0 ? Number(process.argv[runsAt + 1]) : 5
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const log = (s: string) => process.stderr.write(`${s}\n`)
/** Runs the CLI; returns wall seconds of the whole command and its stderr (where summaries go). */
const cli = (args: string[]): [number, string] => {
  const t0 = performance.now()
  const r = spawnSync(process.execPath, [join(root, "bin/expertflow.js"), ...args], { encoding: "utf8" })
  if (r.status !== 0) throw new Error(`expertflow ${args.join(" ")} failed: ${r.stderr}`)
  return [(performance.now() - t0) / 1000, r.stderr]
}

const out: Record<string, unknown> = {}
/**
 * The sweep's own time (workers started, cells run, lines written), the CPU time every thread of
 * the process spent in it, and the whole command's wall time, with 1 and 2 workers. One untimed
 * run first builds the worker bundle cache (workflows/workerBundle.ts) as any earlier sweep would
 * have; runs alternate.
 */
function scaling(name: string, file: string, n: number): void {
  const sweep = (workers: number) => {
    const results = join(root, ".cache", `${name}-w${workers}.jsonl`)
    rmSync(results, { force: true })
    return cli(["sweep", file, "--workers", String(workers), "--out", results])
  }
  sweep(1)
  const times: Record<number, { sweep: number[]; cpu: number[]; wall: number[] }> = {
    1: { sweep: [], cpu: [], wall: [] },
    2: { sweep: [], cpu: [], wall: [] }
  }
  for (let r = 0; r < n; r++) {
    for (const workers of [1, 2]) {
      const [wall, summary] = sweep(workers)
      const m = /in ([0-9.]+) s, ([0-9.]+) CPU-s/.exec(summary)
      if (!m) throw new Error(`unexpected sweep output: ${summary}`)
      times[workers]!.sweep.push(Number(m[1]))
      times[workers]!.cpu.push(Number(m[2]))
      times[workers]!.wall.push(wall)
      log(`${name}, ${workers} worker(s), run ${r + 1}: sweep ${m[1]} s (${m[2]} CPU-s), command ${wall.toFixed(2)} s`)
    }
  }
  for (const workers of [1, 2]) {
    out[`${name}_s_workers${workers}`] = median(times[workers]!.sweep)
    out[`${name}_cpu_s_workers${workers}`] = median(times[workers]!.cpu)
    out[`${name}_command_s_workers${workers}`] = Number(median(times[workers]!.wall).toFixed(2))
  }
  const ratio = (a: unknown, b: unknown) => Number(((a as number) / (b as number)).toFixed(2))
  out[`${name}_speedup`] = ratio(out[`${name}_s_workers1`], out[`${name}_s_workers2`])
  out[`${name}_command_speedup`] = ratio(out[`${name}_command_s_workers1`], out[`${name}_command_s_workers2`])
  log(`${name}: speed-up with 2 workers ${out[`${name}_speedup`]}×, whole command ${out[`${name}_command_speedup`]}×`)
}

if (existsSync(join(root, "../shared/traces/mixtral-8x7b-vllm/humaneval_2_routing.jsonl")))
  scaling("sweep200", "bench/sweep200.json", runs)
else log("skipping the 200-cell sweep: ../shared/traces is absent")
// 16 cells of ≥ 1 s each: the issue's trace, the one policyBench generates (DeepSeek-V3, Zipf 0.8,
// 40,000 tokens; at 10,000 tokens the cells now take well under a second).
const sweep16Trace = deepseekTraceFile(root, 40_000)
if (!existsSync(sweep16Trace)) cli(deepseekTraceArgs(40_000, sweep16Trace))
scaling("sweep16", "bench/sweep16.json", Math.min(runs, 3))

const dir = join(root, ".cache", "bench-default")
rmSync(dir, { recursive: true, force: true })
cli(["start", "--out-dir", dir])
const html = join(dir, "report.html")
out.report_bytes = statSync(html).size
log(`default report: ${((out.report_bytes as number) / 1024).toFixed(0)} KiB`)
if (existsSync("/usr/bin/chromium")) {
  const { chromium } = await import("playwright-core")
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-quic"
    ]
  })
  const times: number[] = []
  for (let r = 0; r < runs; r++) {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } })
    const t0 = performance.now()
    await page.goto(pathToFileURL(html).href, { waitUntil: "load" })
    await page.waitForSelector("body[data-rendered='1'] #fig-heat svg")
    times.push(performance.now() - t0)
    await page.close()
  }
  await browser.close()
  out.report_render_ms = Math.round(median(times))
  log(`Chromium load + render of the default report: ${out.report_render_ms} ms (median of ${runs})`)
} else log("skipping the render timing: /usr/bin/chromium is absent")
console.log(JSON.stringify(out))
