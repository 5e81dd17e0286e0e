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
import { makeGeometry } from "../policies/cacheGeometry.ts"
import { replayCacheOnly } from "../sim/cacheOnly.ts"
import { computeNextUse } from "../policies/nextUse.ts"
import { runTimed } from "../sim/engine.ts"
import { makeTiming } from "../sim/timing.ts"
import { loadHardware, loadModel } from "../base/profiles.ts"
import { makeEviction } from "../policies/registry.ts"
import { oraclePredictor } from "../policies/oracle.ts"
import { fixedStepPrefetcher } from "../policies/fixedStep.ts"
import { crossFit } from "../policies/training.ts"
import { predictors } from "../policies/registry.ts"
import { balancedSplit } from "../policies/tokenScheduler.ts"
import { simulate } from "../workflows/simulate.ts"

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 ? Number(process.argv[i + 1]) : dflt
}
const tokens = arg("tokens", 40_000)
const runs = arg("runs", 5)
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}
const log = (s: string) => process.stderr.write(`${s}\n`)

const model = loadModel("deepseek-v3")
const t0 = performance.now()
/** The replay reads routing ids only: keep them, let the gate-weight column go before measuring. */
function makeWorkload() {
  const full = generateZipfTrace({
    model: { name: model.id, layers: model.layers, experts: model.experts, topK: model.topK },
    tokens,
    requests: 64,
    skew: 0.8,
    seed: 42
  })
  return { trace: { ...full, weights: new Float32Array(0) }, stream: buildAccessStream(full, 1) }
}
const { trace, stream } = makeWorkload()
;(globalThis as { gc?: () => void }).gc?.()
const N = stream.accesses
log(`trace: ${tokens} tokens, ${N} accesses, generated in ${((performance.now() - t0) / 1000).toFixed(2)} s`)
const slots = Math.floor((model.layers * model.experts) / 4)
const geometry = makeGeometry(stream, { slots }, false)
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
// The floor under it: the same LRU written into one loop over local typed arrays (no policy
// object, no groups, no counters but misses), which must count the same misses.
const lruMisses = replayCacheOnly(stream, geometry, policy("lru"), null).misses
const lruFloor = measure("cache-only lru floor (one hand-written loop)", () => {
  const misses = fusedLruMisses(stream.keys, stream.offsets, stream.layers, stream.experts, slots)
  if (misses !== lruMisses)
    throw new Error(`bench: the hand-written LRU counts ${misses} misses, the replay ${lruMisses}`)
  return misses
})
// Belady's time includes computing every access's next use.
const nextBuffer = new Int32Array(N)
const belady = measure(
  "cache-only belady",
  () => replayCacheOnly(stream, geometry, policy("belady"), computeNextUse(stream, nextBuffer).next).misses
)
const timing = makeTiming(model, loadHardware("h100-sxm"))
const timed = measure(
  "timed lru + fixed:1 oracle",
  () =>
    runTimed({
      stream,
      geometry,
      timing,
      eviction: policy("lru"),
      future: null,
      predictor: oraclePredictor({
        stream,
        trace,
        traceName: "t",
        top: 0,
        training: crossFit(stream, trace),
        args: []
      }),
      prefetcher: fixedStepPrefetcher(1, model.experts),
      copyEngines: 1,
      timeline: null
    }).stallNs
)
const peak = process.resourceUsage().maxRSS * 1024
log(
  `peak RSS ${(peak / 2 ** 20).toFixed(0)} MiB = ${(peak / N).toFixed(2)} bytes/access (target ≤ 4 B/access + 200 ` +
    `MB = ${((4 * N + 200e6) / 2 ** 20).toFixed(0)} MiB)`
)

// --- Policies of the ExpertFlow papers (measured after the peak-RSS reading above) ---
const policies = policyBench()
console.log(
  JSON.stringify({
    accesses: N,
    slots,
    runs,
    lru_accesses_per_s: Math.round(lru),
    lru_floor_accesses_per_s: Math.round(lruFloor),
    belady_accesses_per_s: Math.round(belady),
    timed_accesses_per_s: Math.round(timed),
    peak_rss_bytes: peak,
    peak_rss_limit_bytes: 4 * N + 200e6,
    ...policies
  })
)

/** LRU misses over a unified cache of `slots` experts, as one loop: a doubly linked list in typed arrays. */
function fusedLruMisses(keys: Uint16Array, offsets: ArrayLike<number>, L: number, E: number, slots: number): number {
  const S = L * E // the sentinel: next[S] is the newest key, prev[S] the oldest
  const prev = new Int32Array(S + 1),
    next = new Int32Array(S + 1),
    resident = new Uint8Array(S)
  prev[S] = S
  next[S] = S
  let used = 0,
    misses = 0
  const cells = offsets.length - 1
  for (let cell = 0; cell < cells; cell++) {
    const base = (cell % L) * E
    const end = offsets[cell + 1]!
    for (let i = offsets[cell]!; i < end; i++) {
      const key = base + keys[i]!
      if (resident[key] === 1) {
        const p = prev[key]!,
          n = next[key]!
        next[p] = n
        prev[n] = p
      } else {
        misses++
        resident[key] = 1
        if (used === slots) {
          const v = prev[S]!,
            p = prev[v]!
          next[p] = S
          prev[S] = p
          resident[v] = 0
        } else used++
      }
      const first = next[S]!
      prev[key] = S
      next[key] = first
      prev[first] = key
      next[S] = key
    }
  }
  return misses
}

function policyBench() {
  // Predictors: time per decision on a Mixtral-shaped trace (32 × 8, top-2), batch 1.
  const mix = generateZipfTrace({
    model: { name: "mixtral-8x7b", layers: 32, experts: 8, topK: 2 },
    tokens: 4000,
    requests: 8,
    skew: 0.8,
    seed: 7,
    lookahead: { depth: 4, a: 0.5, b: 0.4, c: 0.3 }
  })
  const mixStream = buildAccessStream(mix, 1)
  const training = crossFit(mixStream, mix)
  const out = new Uint16Array(8)
  const predictorNs: Record<string, number> = {}
  for (const name of [
    "oracle",
    "prev-token",
    "prev-layer",
    "transition",
    "popularity",
    "pregate",
    "hybrid",
    "route-path",
    "eam"
  ]) {
    const p = predictors[name]!.make({ stream: mixStream, trace: mix, traceName: "bench", top: 0, training, args: [] })
    const samples: number[] = []
    for (let r = 0; r < runs; r++) {
      let calls = 0
      const s0 = performance.now()
      for (let s = 1; s < mixStream.steps; s++)
        for (let l = 0; l + 1 < 32; l++) {
          p.predict(s, l + 1, s, l, out)
          calls++
        }
      samples.push(((performance.now() - s0) * 1e6) / calls)
    }
    predictorNs[name] = Math.round(median(samples))
    log(`predictor ${name}: ${predictorNs[name]} ns per decision (median of ${runs})`)
  }
  // Token scheduler: two batches of 32 tokens, 32 layers × 8 experts.
  const sched = generateZipfTrace({
    model: { name: "m", layers: 32, experts: 8, topK: 2 },
    tokens: 64 * 50,
    requests: 64,
    skew: 0.8,
    seed: 8
  })
  /** Median ns of balancedSplit over `decisions` units of `items` tokens each (`token(u, i)`), as bitset paths. */
  const schedulerNsPerDecision = (
    t: { experts: Uint16Array; model: { layers: number; experts: number; topK: number } },
    decisions: number,
    items: number,
    token: (u: number, i: number) => number
  ) => {
    const { layers: L, experts: E, topK: K } = t.model
    const words = Math.ceil((L * E) / 32)
    const ns: number[] = []
    for (let u = 0; u < decisions; u++) {
      const paths = Array.from({ length: items }, (_, i) => {
        const p = new Uint32Array(words),
          tok = token(u, i)
        for (let l = 0; l < L; l++)
          for (let k = 0; k < K; k++) {
            const b = l * E + t.experts[(tok * L + l) * K + k]!
            p[b >>> 5]! |= 1 << (b & 31)
          }
        return p
      })
      const s0 = performance.now()
      balancedSplit(paths, words)
      ns.push((performance.now() - s0) * 1e6)
    }
    return Math.round(median(ns))
  }
  const schedulerNs = schedulerNsPerDecision(sched, 50, 64, (u, i) => i * 50 + u)
  log(
    `token scheduler: ${(schedulerNs / 1e6).toFixed(3)} ms per decision (2 × 32 tokens, 32 layers × 8 experts; ` +
      `median of 50)`
  )
  // EF-H at batch 8 on DeepSeek-V3 with 8 requests: units of 8 decode tokens, 58 layers × 256 experts.
  const deepseekSchedulerNs = schedulerNsPerDecision(trace, 200, 8, (u, i) => u * 8 + i)
  log(
    `token scheduler: ${(deepseekSchedulerNs / 1e6).toFixed(3)} ms per decision (2 × 4 tokens, 58 layers × 256 ` +
      `experts; median of 200)`
  )
  // The access stream at batch 8 (every batched run builds one): the DeepSeek-V3-sized trace above.
  const streamMs: number[] = []
  let listed = 0
  for (let r = 0; r < runs; r++) {
    const s0 = performance.now()
    listed = buildAccessStream(trace, 8).accesses
    streamMs.push(performance.now() - s0)
  }
  const streamBatch8Ms = Math.round(median(streamMs))
  log(`access stream at batch 8: ${streamBatch8Ms} ms for ${listed} accesses from ${N} listings (median of ${runs})`)
  // Timed throughput of the adaptive and hybrid policies: Qwen1.5-MoE-shaped trace with pre-gate lookahead.
  const qwen = generateZipfTrace({
    model: { name: "qwen1.5-moe-a2.7b", layers: 24, experts: 60, topK: 4 },
    tokens: 20000,
    requests: 32,
    skew: 0.8,
    seed: 9,
    lookahead: { depth: 4, a: 0.5, b: 0.4, c: 0.3 }
  })
  const qModel = loadModel("qwen1.5-moe-a2.7b")
  const rate = (policy: string) => {
    const rates: number[] = []
    let accesses = 0
    for (let r = 0; r < runs; r++) {
      const s0 = performance.now()
      const rec = simulate({
        trace: qwen,
        traceName: "bench",
        model: qModel,
        hardware: loadHardware("a6000"),
        policy,
        mode: "timed",
        cacheSlots: 720,
        batch: 1,
        perLayer: false,
        seed: 0,
        timeline: false
      }).record
      accesses = rec.accesses
      rates.push(rec.accesses / ((performance.now() - s0) / 1000))
    }
    log(
      `timed ${policy}: ${(median(rates) / 1e6).toFixed(2)} M accesses/s (${accesses} accesses, median of ${runs}, ` +
        `training included)`
    )
    return Math.round(median(rates))
  }
  return {
    predictor_ns_per_decision: predictorNs,
    scheduler_ns_per_decision: schedulerNs,
    scheduler_ns_per_decision_deepseek_v3: deepseekSchedulerNs,
    stream_batch8_ms: streamBatch8Ms,
    adaptive_timed_accesses_per_s: rate("cache=two-level-lru,prefetch=adaptive,predictor=transition"),
    hybrid_timed_accesses_per_s: rate("cache=two-level-lru,prefetch=adaptive,predictor=hybrid,order=resident-first")
  }
}
