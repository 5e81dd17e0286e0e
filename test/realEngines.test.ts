import { describe, expect, it } from "@jest/globals"
import fc from "fast-check"
import { readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { buildAccessStream } from "../traces/batching.ts"
import { importRouteTrace } from "../traces/routeTrace.ts"
import type { Accounting, Trace } from "../traces/trace.ts"
import { makeGeometry } from "../policies/cacheGeometry.ts"
import { computeNextUse } from "../policies/nextUse.ts"
import { evictionPolicies, makeEviction } from "../policies/registry.ts"
import { replayCacheOnly } from "../sim/cacheOnly.ts"
import { runTimed } from "../sim/engine.ts"
import { makeTiming } from "../sim/timing.ts"
import { expertBytes, loadHardware, loadModel, type ModelProfile } from "../base/profiles.ts"
import { expertBytesIn, parseWeightFormat } from "../base/weightFormats.ts"
import { modelFromTrace, simulate } from "../workflows/simulate.ts"
import { cli } from "./helpers/cli.ts"
import { repoRoot, tinyModel, tinyTrace, tempDir } from "./helpers/fixtures.ts"

const GEMMA_DIR = join(repoRoot, "..", "shared", "traces", "bigmoeonedge-gemma4")
const GEMMA = join(GEMMA_DIR, "gemma.route.csv")
let haveGemma = true
try {
  readFileSync(GEMMA)
} catch {
  haveGemma = false
  console.log(`skipping the Gemma ground-truth tests: ${GEMMA} is absent (../shared is not beside the repo)`)
}
const withGemma = haveGemma ? it : it.skip

/** A cache-only replay of the Gemma route trace at the engine's 4000 MiB budget. */
const replayGemma = (policy: string) => {
  const trace = importRouteTrace(GEMMA)
  return simulate({
    trace,
    traceName: GEMMA,
    model: modelFromTrace(trace),
    hardware: loadHardware("h100-pcie"),
    policy,
    mode: "cache-only",
    cacheBytes: 4000 * 2 ** 20,
    batch: 1,
    perLayer: false,
    seed: 0,
    timeline: false
  }).record
}

describe("a real engine's own cache verdicts (BigMoeOnEdge, Gemma-4-26B-A4B Q4_K_M, 4000 MiB)", () => {
  withGemma("cache-only LRU under the engine's accounting reproduces its hit rate and its residency rows", () => {
    const record = replayGemma("cache=lru")
    // The engine's own figure: `cache_hit_pct=76.8` on the summary line of its metrics.
    const summary = readFileSync(join(GEMMA_DIR, "gemma.metrics"), "utf8")
      .split("\n")
      .find((l) => l.startsWith("# summary"))!
    const enginePct = Number(/cache_hit_pct=([0-9.]+)/.exec(summary)![1])
    expect(enginePct).toBe(76.8)
    expect(Math.round(record.hit_rate * 1000) / 10).toBe(enginePct)
    expect(record.accounting).toEqual({ evict: "batch", duplicates: "refresh", prefill: "chunk" })
    const rr = record.recorded_residency!
    expect(rr.rows).toBe(28260)
    expect(rr.agreement).toBeGreaterThanOrEqual(0.999)
    expect(Math.round(rr.recorded_hit_rate * 1000) / 10).toBe(enginePct)
    expect(record.cache_bytes).toBe(4000 * 2 ** 20)
  })

  withGemma("without the engine's rules the replay is measurably further from its verdicts", () => {
    const run = (policy: string) => replayGemma(policy).recorded_residency!.agreeing_rows
    expect(run("cache=lru,evict=insert,dup=first,prefill=token")).toBeLessThan(run("cache=lru"))
  })

  withGemma("the GGUF block formulas give the header's two expert sizes (gate/up q4_k, down q8_0 or q5_0)", () => {
    const header = importRouteTrace(GEMMA).engine!.expertBytes
    // Gemma-4-26B-A4B: hidden 2816, expert FFN 704 (704 is not a multiple of 256, so llama.cpp
    // stores the k-quant down projection in its 32-block fallback: q6_k → q8_0, q4_k → q5_0).
    const big = expertBytesIn(parseWeightFormat("gguf:q4_k/q4_k/q8_0"), 2816, 704, 3)
    const small = expertBytesIn(parseWeightFormat("gguf:q4_k/q4_k/q5_0"), 2816, 704, 3)
    expect(new Set(header)).toEqual(new Set([big, small]))
  })
})

describe("weight formats: every quantized preset's size matches its formula", () => {
  const cases: Array<[string, number]> = [
    // 3 × 2048 × 1408 weights; int4 = 0.5 B each; per 128-group per output row: fp16 scale + 4-bit zero = 2.5 B.
    ["qwen1.5-moe-a2.7b@int4-g128", 3 * 2048 * 1408 * 0.5 + (2 * 1408 * 16 + 2048 * 11) * 2.5],
    ["deepseek-v2-lite@int4-g128", 3 * 2048 * 1408 * 0.5 + (2 * 1408 * 16 + 2048 * 11) * 2.5],
    // HQQ 3-bit experts, group 64: 3/8 B per weight + 4 B per 64 weights.
    ["mixtral-8x7b@hqq-4/3", 3 * 4096 * 14336 * (3 / 8) + ((3 * 4096 * 14336) / 64) * 4],
    // fp8 per-channel: 1 B per weight + fp32 per output row (14336, 14336, 4096 rows... for V3: 2048, 2048, 7168).
    ["deepseek-v3@fp8", 3 * 7168 * 2048 + (2048 + 2048 + 7168) * 4],
    // fp8 128×128 blocks: gate/up 16 × 56 blocks each, down 56 × 16.
    ["deepseek-v3@fp8-block128", 3 * 7168 * 2048 + 3 * 16 * 56 * 4],
    // GGUF q4_k: 144 B per 256 weights.
    ["mixtral-8x7b@q4_k", ((3 * 4096 * 14336) / 256) * 144]
  ]
  for (const [id, bytes] of cases)
    it(`${id}: ${bytes} B`, () => {
      expect(expertBytes(loadModel(id))).toBe(bytes)
    })

  it("hqq-4/3 also quantizes the resident weights to 4-bit HQQ (mixtral-offloading's attention)", () => {
    expect(loadModel("mixtral-8x7b@hqq-4/3").bytesPerParam).toBe(0.5 + 4 / 64)
    expect(loadModel("qwen1.5-moe-a2.7b@int4-g128").bytesPerParam).toBe(loadModel("qwen1.5-moe-a2.7b").bytesPerParam)
  })

  it("an unknown format is a usage error naming the spellings", () => {
    expect(() => loadModel("mixtral-8x7b@int5-g7")).toThrow(/unknown weight format 'int5-g7'/)
  })
})

/** Random small traces with a random expert size per layer. */
const sizedTraceArb = fc
  .record({ L: fc.integer({ min: 1, max: 4 }), E: fc.integer({ min: 2, max: 8 }), T: fc.integer({ min: 1, max: 25 }) })
  .chain(({ L, E, T }) =>
    fc.record({
      K: fc.integer({ min: 1, max: Math.min(3, E) }),
      routes: fc.array(fc.array(fc.integer({ min: 0, max: 1 << 20 }), { minLength: L, maxLength: L }), {
        minLength: T,
        maxLength: T
      }),
      sizes: fc.array(fc.integer({ min: 1, max: 5 }), { minLength: L, maxLength: L }),
      E: fc.constant(E),
      prefill: fc.integer({ min: 0, max: T })
    })
  )
  .map(({ K, routes, sizes, E, prefill }) => {
    const trace = tinyTrace(
      routes.map((row) =>
        row.map((seed) => {
          const ids = Array.from({ length: E }, (_, i) => i)
          for (let i = 0; i < K; i++) {
            const j = i + ((seed >> (i * 3)) % (E - i))
            ;[ids[i], ids[j]] = [ids[j]!, ids[i]!]
          }
          return ids.slice(0, K)
        })
      ),
      E
    )
    // The first `prefill` tokens are the prompt: one chunk per layer, as engines batch it.
    const phase = Uint8Array.from({ length: trace.tokens }, (_, i) => (i < prefill ? 1 : 0))
    return { trace: { ...trace, phase } as Trace, bytesOfLayer: Float64Array.from(sizes) }
  })

/** The smallest budget that fits every layer batch of the stream. */
const minBudget = (trace: Trace, bytesOfLayer: Float64Array, prefill: Accounting["prefill"]) => {
  const a = buildAccessStream(trace, 1, undefined, { prefill })
  let need = 1
  for (let c = 0; c < a.steps * a.layers; c++)
    need = Math.max(need, (a.offsets[c + 1]! - a.offsets[c]!) * bytesOfLayer[c % a.layers]!)
  return need
}

const replayBytes = (
  trace: Trace,
  bytesOfLayer: Float64Array,
  budget: number,
  cache: string,
  acc: Accounting
): ReturnType<typeof replayCacheOnly> => {
  const a = buildAccessStream(trace, 1, undefined, { prefill: acc.prefill, lastUseOrder: acc.duplicates === "refresh" })
  const g = makeGeometry(a, { bytes: budget, bytesOfLayer }, false)
  const p = makeEviction(cache, [], a, g)
  return replayCacheOnly(a, g, p, p.needsFuture ? computeNextUse(a).next : null, acc)
}

const accountingArb = fc.record({
  evict: fc.constantFrom("insert" as const, "batch" as const),
  duplicates: fc.constantFrom("first" as const, "refresh" as const),
  prefill: fc.constantFrom("chunk" as const, "token" as const)
})
const params = { numRuns: 200, seed: 20261201 }

describe("byte-budgeted caches (fast-check)", () => {
  it("bytes in the cache never exceed the budget after each batch, for every policy and accounting", () => {
    fc.assert(
      fc.property(
        sizedTraceArb,
        fc.integer({ min: 0, max: 12 }),
        fc.constantFrom("lru", "lfu", "fifo", "belady"),
        accountingArb,
        ({ trace, bytesOfLayer }, extra, cache, acc) => {
          const budget = minBudget(trace, bytesOfLayer, acc.prefill) + extra
          const r = replayBytes(trace, bytesOfLayer, budget, cache, acc)
          expect(r.peakUnits).toBeLessThanOrEqual(budget)
          expect(r.hits + r.misses).toBe(buildAccessStream(trace, 1, undefined, { prefill: acc.prefill }).accesses)
        }
      ),
      params
    )
  })

  it("with uniform sizes a byte budget of N·size gives exactly the N-slot results", () => {
    fc.assert(
      fc.property(
        sizedTraceArb,
        fc.integer({ min: 0, max: 6 }),
        fc.integer({ min: 1, max: 9 }),
        fc.constantFrom("lru", "lfu", "fifo", "belady"),
        ({ trace }, extra, size, cache) => {
          const uniform = new Float64Array(trace.model.layers).fill(size)
          const slots = Math.min(
            minBudget(trace, new Float64Array(trace.model.layers).fill(1), "chunk") + extra,
            trace.model.layers * trace.model.experts
          )
          const m: ModelProfile = {
            ...tinyModel(trace.model.layers, trace.model.experts, trace.model.topK),
            expertBytesPerLayer: Array.from(uniform)
          }
          const run = (size: { cacheSlots: number } | { cacheBytes: number }) =>
            simulate({
              trace,
              traceName: "t",
              model: m,
              hardware: loadHardware("h100-pcie"),
              policy: `cache=${cache}`,
              mode: "cache-only",
              ...size,
              batch: 1,
              perLayer: false,
              seed: 0,
              timeline: false
            }).record
          const bySlots = run({ cacheSlots: slots })
          // Identical but for the budget's spelling, which the record keeps.
          const { cache_bytes, working_set_bytes, ...byBytes } = run({ cacheBytes: slots * size })
          expect(cache_bytes).toBe(slots * size)
          expect(working_set_bytes).toBe(trace.model.layers * trace.model.topK * size)
          expect(byBytes).toEqual(bySlots)
          // And through the geometry itself: a unit-size byte budget is the slot geometry.
          const a = buildAccessStream(trace, 1)
          const g = makeGeometry(a, { bytes: slots * size, bytesOfLayer: uniform }, false)
          expect(g.unitOfLayer).toBeNull()
          expect(Array.from(g.capacities)).toEqual([slots])
        }
      ),
      { numRuns: 80, seed: 20261201 }
    )
  })

  it("size-aware Belady never misses more bytes than LRU", () => {
    fc.assert(
      fc.property(sizedTraceArb, fc.integer({ min: 0, max: 12 }), ({ trace, bytesOfLayer }, extra) => {
        const acc: Accounting = { evict: "insert", duplicates: "first", prefill: "token" }
        const budget = minBudget(trace, bytesOfLayer, "token") + extra
        const belady = replayBytes(trace, bytesOfLayer, budget, "belady", acc).loadedUnits
        expect(belady).toBeLessThanOrEqual(replayBytes(trace, bytesOfLayer, budget, "lru", acc).loadedUnits)
      }),
      params
    )
  })

  it("the timed engine over mixed sizes: each transfer moves its own expert's bytes, within the budget", () => {
    fc.assert(
      fc.property(
        sizedTraceArb,
        fc.integer({ min: 0, max: 12 }),
        fc.constantFrom("lru", "belady"),
        ({ trace, bytesOfLayer }, extra, cache) => {
          const budget = minBudget(trace, bytesOfLayer, "chunk") + extra
          const a = buildAccessStream(trace, 1)
          const g = makeGeometry(a, { bytes: budget, bytesOfLayer }, false)
          const p = makeEviction(cache, [], a, g)
          const model: ModelProfile = {
            ...tinyModel(trace.model.layers, trace.model.experts, trace.model.topK),
            expertBytesPerLayer: Array.from(bytesOfLayer, (b) => b * 1000)
          }
          const timing = makeTiming(model, loadHardware("h100-pcie"))
          const c = runTimed({
            stream: a,
            geometry: g,
            timing,
            eviction: p,
            future: p.needsFuture ? computeNextUse(a) : null,
            predictor: null,
            prefetcher: null,
            copyEngines: 1,
            timeline: null
          })
          expect(c.peakSlots).toBeLessThanOrEqual(budget)
          const cacheOnly = replayCacheOnly(
            a,
            g,
            makeEviction(cache, [], a, g),
            p.needsFuture ? computeNextUse(a).next : null,
            {
              evict: "insert",
              duplicates: "first",
              prefill: "chunk"
            }
          )
          // On-demand LRU: the timed engine misses and moves what the cache-only replay does (under
          // Belady the two may differ: the timed engine pins the running layer's experts).
          if (cache === "lru") {
            expect(c.misses).toBe(cacheOnly.misses)
            expect(c.transferredUnits).toBe(cacheOnly.loadedUnits)
          }
          // Each layer's transfers take that layer's time: bigger experts, longer copies.
          const t = timing.transferNsOfLayer!
          for (let l = 0; l < bytesOfLayer.length; l++)
            for (let m = 0; m < bytesOfLayer.length; m++)
              if (bytesOfLayer[l]! > bytesOfLayer[m]!) expect(t[l]!).toBeGreaterThan(t[m]!)
        }
      ),
      { numRuns: 120, seed: 20261201 }
    )
  })
})

describe("a byte budget of real size", () => {
  it("every eviction policy sizes its structures by keys, not by the budget's bytes", () => {
    // 2 layers of 4 experts at 40 and 20 MiB under a 64 GiB budget: capacities are bytes here.
    const trace = tinyTrace(
      [
        [
          [0, 1],
          [2, 3]
        ],
        [
          [1, 2],
          [0, 3]
        ]
      ],
      4
    )
    const bytesOfLayer = Float64Array.of(40 * 2 ** 20, 20 * 2 ** 20)
    const a = buildAccessStream(trace, 1)
    for (const partitioned of [false, true]) {
      const g = makeGeometry(a, { bytes: 64 * 2 ** 30, bytesOfLayer }, partitioned)
      expect(g.unitOfLayer).not.toBeNull()
      for (const name of Object.keys(evictionPolicies))
        for (const timed of [false, true])
          expect(() => makeEviction(name, [], a, g, undefined, name, timed)).not.toThrow()
    }
  })
})

describe("route traces: bad input names file, line and field (exit 2)", () => {
  const header = [
    "# route_trace v1",
    "# model=/m/tiny.gguf arch=tiny n_layer=2 n_expert=4 n_expert_used=2",
    "# layer=0 expert_bytes=100 dense_bytes=10",
    "# layer=1 expert_bytes=200 dense_bytes=10",
    "turn,phase,step,layer,slot,expert,weight,residency,expert_bytes"
  ]
  const rows = ["0,1,0,0,0,1,0.5,0,100", "0,1,0,0,1,2,0.5,0,100", "0,1,0,1,0,3,0.5,0,200", "0,1,0,1,1,0,0.5,0,200"]
  const cases: Array<[string, string[], RegExp]> = [
    ["a missing header line", [header[0]!, ...header.slice(2), ...rows], /header: field 'n_layer'/],
    [
      "an expert id ≥ n_expert",
      [...header, "0,1,0,0,0,4,0.5,0,100", ...rows.slice(1)],
      /line 6: field 'expert'.*≥ n_expert 4/
    ],
    ["a layer without expert_bytes", [...header.slice(0, 3), header[4]!, ...rows], /field 'layer=1 expert_bytes'/],
    ["a non-numeric residency", [...header, "0,1,0,0,0,1,0.5,x,100", ...rows.slice(1)], /line 6: field 'residency'/]
  ]
  for (const [what, lines, message] of cases)
    it(what, () => {
      const dir = tempDir("ef-route-")
      try {
        const file = join(dir, "bad.csv")
        writeFileSync(file, `${lines.join("\n")}\n`)
        const r = cli([
          "simulate",
          "--trace",
          file,
          "--policy",
          "cache=lru",
          "--mode",
          "cache-only",
          "--cache-bytes",
          "1MiB"
        ])
        expect(r.code).toBe(2)
        expect(r.stderr).toContain(file)
        expect(r.stderr).toMatch(message)
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    })

  it("a budget smaller than one layer's batch", () => {
    const dir = tempDir("ef-route-")
    try {
      const file = join(dir, "ok.csv")
      writeFileSync(file, `${[...header, ...rows].join("\n")}\n`)
      const r = cli([
        "simulate",
        "--trace",
        file,
        "--policy",
        "cache=lru",
        "--mode",
        "cache-only",
        "--cache-bytes",
        "300"
      ])
      expect(r.code).toBe(2)
      expect(r.stderr).toMatch(/--cache-bytes: step 0 layer 1: field 'cache-bytes': impossible cache size: 300 B/)
      const ok = cli([
        "simulate",
        "--trace",
        file,
        "--policy",
        "cache=lru",
        "--mode",
        "cache-only",
        "--cache-bytes",
        "600"
      ])
      expect(ok.code).toBe(0)
      expect(ok.stdout).toMatch(/agrees on 4 of 4 rows/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
