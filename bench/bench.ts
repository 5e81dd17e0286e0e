/**
 * npm run bench — replay throughput on a seeded synthetic DeepSeek-V3-sized trace
 * (58 layers × 256 experts, top-8, ≥ 18 M accesses), single thread, median of N runs.
 * The last line is one JSON object with the figures. Options: --tokens N, --runs N.
 * Runs from an esbuild bundle (as on a GPU host), not through tsx, whose transpiler alone holds
 * ~70 MB. Peak RSS counts the routing ids (2 B/access), Belady's next-use array (4 B/access)
 * and the stream offsets; the trace's gate-weight column is released first (no replay reads it).
 */
import { buildAccessStream } from "../traces/batching.ts"
import { generateZipfTrace } from "../traces/synthetic.ts"
import { makeGeometry } from "../sim/cacheGeometry.ts"
import { replayCacheOnly } from "../sim/cacheOnly.ts"
import { computeNextUse } from "../sim/nextUse.ts"
import { runTimed } from "../sim/engine.ts"
import { makeTiming } from "../sim/timing.ts"
import { loadHardware, loadModel } from "../sim/profiles.ts"
import { makeEviction } from "../policies/registry.ts"
import { oraclePredictor } from "../policies/oracle.ts"
import { fixedStepPrefetcher } from "../policies/fixedStep.ts"
import { crossFit } from "../policies/training.ts"

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : dflt
}
const tokens = arg("tokens", 40_000)
const runs = arg("runs", 5)
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]! }
const log = (s: string) => process.stderr.write(s + "\n")

const model = loadModel("deepseek-v3")
const t0 = performance.now()
/** The replay reads routing ids only: keep them, let the gate-weight column go before measuring. */
function makeWorkload() {
  const full = generateZipfTrace({ model: { name: model.id, layers: model.layers, experts: model.experts, topK: model.topK }, tokens, requests: 64, skew: 0.8, seed: 42 })
  return { trace: { ...full, weights: new Float32Array(0) }, stream: buildAccessStream(full, 1) }
}
const { trace, stream } = makeWorkload()
;(globalThis as { gc?: () => void }).gc?.()
const N = stream.accesses
log(`trace: ${tokens} tokens, ${N} accesses, generated in ${((performance.now() - t0) / 1000).toFixed(2)} s`)
const slots = Math.floor((model.layers * model.experts) / 4)
const geometry = makeGeometry(stream, slots, false)
const policy = (name: string) => makeEviction(name, [], stream, geometry)

function measure(label: string, fn: () => number): number {
  const rates: number[] = []
  for (let r = 0; r < runs; r++) {
    const s = performance.now()
    const check = fn()
    const secs = (performance.now() - s) / 1000
    rates.push(N / secs)
    log(`${label} run ${r + 1}: ${(N / secs / 1e6).toFixed(2)} M accesses/s (${secs.toFixed(2)} s, check ${check})`)
  }
  return median(rates)
}

const lru = measure("cache-only lru", () => replayCacheOnly(stream, geometry, policy("lru"), null).misses)
// Belady's time includes computing every access's next use.
const nextBuffer = new Int32Array(N)
const belady = measure("cache-only belady", () => replayCacheOnly(stream, geometry, policy("belady"), computeNextUse(stream, nextBuffer).next).misses)
const timing = makeTiming(model, loadHardware("h100-sxm"))
const timed = measure("timed lru + fixed:1 oracle", () => runTimed({
  stream, geometry, timing, eviction: policy("lru"), future: null,
  predictor: oraclePredictor({ stream, trace, traceName: "t", top: 0, training: crossFit(stream, trace), args: [] }),
  prefetcher: fixedStepPrefetcher(1, model.experts), copyEngines: 1, timeline: null
}).stallNs)
const peak = process.resourceUsage().maxRSS * 1024
log(`peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB = ${(peak / N).toFixed(2)} bytes/access (target ≤ 4 B/access + 200 MB = ${((4 * N + 200e6) / 2 ** 20).toFixed(0)} MiB)`)
console.log(JSON.stringify({
  accesses: N, slots, runs,
  lru_accesses_per_s: Math.round(lru), belady_accesses_per_s: Math.round(belady), timed_accesses_per_s: Math.round(timed),
  peak_rss_bytes: peak, peak_rss_limit_bytes: 4 * N + 200e6
}))
