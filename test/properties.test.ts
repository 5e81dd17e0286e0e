import { describe, expect, it } from "@jest/globals"
import fc from "fast-check"
import { buildAccessStream } from "../traces/batching.ts"
import { makeGeometry } from "../policies/cacheGeometry.ts"
import { replayCacheOnly } from "../sim/cacheOnly.ts"
import { runTimed } from "../sim/engine.ts"
import { computeNextUse } from "../policies/nextUse.ts"
import { simulate } from "../workflows/simulate.ts"
import type { TimingModel } from "../sim/timing.ts"
import { makeEviction } from "../policies/registry.ts"
import { oraclePredictor } from "../policies/oracle.ts"
import { topByScore, type PredictorContext } from "../policies/predictor.ts"
import { topByHeap } from "./reference/topByHeap.ts"
import { routePathPredictor, stepOfToken } from "../policies/routePath.ts"
import { TokenTables } from "../policies/tokenTables.ts"
import { DeadlineBuckets } from "../policies/structures/deadlineBuckets.ts"
import { StampQueue } from "../policies/structures/stampQueue.ts"
import { PositionSet } from "../policies/structures/positionSet.ts"
import { fixedStepPrefetcher } from "../policies/fixedStep.ts"
import { crossFit } from "../policies/training.ts"
import { traceArb } from "./helpers/arbitraries.ts"
import { exactHardware, tinyModel, type tinyTrace } from "./helpers/fixtures.ts"

const timing = (transferNs: number): TimingModel => ({
  transferNs,
  expertBytes: 1,
  expertNs: (t) => 7 * t + 3,
  layerNs: (t) => 5 + t
})

const runEngine = (
  trace: ReturnType<typeof tinyTrace>,
  slots: number,
  cache: string,
  transferNs: number,
  prefetchS: number,
  batch = 1,
  engines = 1
) => {
  const stream = buildAccessStream(trace, batch)
  const g = makeGeometry(stream, { slots }, false)
  const eviction = makeEviction(cache, [], stream, g)
  const predictor =
    prefetchS > 0
      ? oraclePredictor({ stream, trace, traceName: "t", top: 0, training: crossFit(stream, trace), args: [] })
      : null
  return runTimed({
    stream,
    geometry: g,
    timing: timing(transferNs),
    eviction,
    future: eviction.needsFuture ? computeNextUse(stream) : null,
    predictor,
    prefetcher: prefetchS > 0 ? fixedStepPrefetcher(prefetchS, stream.experts) : null,
    copyEngines: engines,
    timeline: null
  })
}
const minSlots = (trace: ReturnType<typeof tinyTrace>, batch = 1) => {
  const a = buildAccessStream(trace, batch)
  let m = 1
  for (let c = 0; c < a.steps * a.layers; c++) m = Math.max(m, a.offsets[c + 1]! - a.offsets[c]!)
  return m
}
const params = { numRuns: 150, seed: 20261122 }

describe("properties (fast-check)", () => {
  it("capacity is never exceeded, in either mode", () => {
    fc.assert(
      fc.property(
        traceArb,
        fc.integer({ min: 0, max: 10 }),
        fc.constantFrom("lru", "lfu", "fifo", "belady"),
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 1, max: 3 }),
        (trace, extra, cache, S, B) => {
          const slots = minSlots(trace, B) + extra
          const c = runEngine(trace, slots, cache, 50, Math.min(S, trace.model.layers - 1), B)
          expect(c.peakSlots).toBeLessThanOrEqual(slots)
          const a = buildAccessStream(trace, B)
          const g = makeGeometry(a, { slots }, false)
          const p = makeEviction(cache, [], a, g)
          expect(replayCacheOnly(a, g, p, p.needsFuture ? computeNextUse(a).next : null).peakUnits).toBeLessThanOrEqual(
            slots
          )
        }
      ),
      params
    )
  })

  it("Belady misses ≤ LRU, LFU and FIFO misses (cache-only)", () => {
    fc.assert(
      fc.property(traceArb, fc.integer({ min: 0, max: 10 }), (trace, extra) => {
        const a = buildAccessStream(trace, 1)
        const g = makeGeometry(a, { slots: minSlots(trace) + extra }, false)
        const misses = (name: string) => {
          const p = makeEviction(name, [], a, g)
          return replayCacheOnly(a, g, p, p.needsFuture ? computeNextUse(a).next : null).misses
        }
        const belady = misses("belady")
        for (const other of ["lru", "lfu", "fifo"]) expect(belady).toBeLessThanOrEqual(misses(other))
      }),
      params
    )
  })

  it("total = compute + stall on the one compute stream", () => {
    fc.assert(
      fc.property(
        traceArb,
        fc.integer({ min: 0, max: 6 }),
        fc.constantFrom("lru", "belady"),
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 0, max: 500 }),
        fc.integer({ min: 1, max: 2 }),
        (trace, extra, cache, S, tr, engines) => {
          const c = runEngine(
            trace,
            minSlots(trace) + extra,
            cache,
            tr,
            Math.min(S, trace.model.layers - 1),
            1,
            engines
          )
          expect(c.totalNs).toBe(c.computeNs + c.stallNs)
          expect(c.hits + c.lateHits + c.misses).toBe(c.accesses)
        }
      ),
      params
    )
  })

  it("zero transfer time gives zero stall", () => {
    fc.assert(
      fc.property(traceArb, fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 3 }), (trace, extra, S) => {
        expect(runEngine(trace, minSlots(trace) + extra, "lru", 0, Math.min(S, trace.model.layers - 1)).stallNs).toBe(0)
      }),
      params
    )
  })

  it("on-demand stall never grows when the link gets faster", () => {
    fc.assert(
      fc.property(
        traceArb,
        fc.integer({ min: 0, max: 6 }),
        fc.integer({ min: 1, max: 400 }),
        fc.integer({ min: 0, max: 400 }),
        fc.constantFrom("lru", "lfu", "fifo", "belady"),
        (trace, extra, slow, delta, cache) => {
          const slots = minSlots(trace) + extra
          expect(runEngine(trace, slots, cache, slow + delta, 0).stallNs).toBeGreaterThanOrEqual(
            runEngine(trace, slots, cache, slow, 0).stallNs
          )
        }
      ),
      params
    )
  })

  it("with room for every expert, oracle prefetch never stalls more than on-demand", () => {
    fc.assert(
      fc.property(traceArb, fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 400 }), (trace, S, tr) => {
        if (trace.model.layers < 2) return
        const all = trace.model.layers * trace.model.experts
        const prefetch = runEngine(trace, all, "lru", tr, Math.min(S, trace.model.layers - 1))
        expect(prefetch.stallNs).toBeLessThanOrEqual(runEngine(trace, all, "lru", tr, 0).stallNs)
      }),
      params
    )
  })

  it("the same inputs give a byte-identical result JSON", () => {
    fc.assert(
      fc.property(
        traceArb,
        fc.constantFrom(
          "cache=lru",
          "cache=belady,prefetch=fixed:1,predictor=oracle",
          "cache=lfu,prefetch=fixed:1,predictor=transition",
          "cache=fifo,prefetch=fixed:1,predictor=popularity"
        ),
        (trace, policy) => {
          if (trace.model.layers < 2) return
          const once = () =>
            JSON.stringify(
              simulate({
                trace,
                traceName: "t",
                model: tinyModel(trace.model.layers, trace.model.experts, trace.model.topK),
                hardware: exactHardware(100, 10, 5),
                policy,
                mode: "timed",
                cacheSlots: minSlots(trace) + 1,
                batch: 1,
                perLayer: false,
                seed: 1,
                timeline: false
              }).record
            )
          expect(once()).toBe(once())
        }
      ),
      { ...params, numRuns: 60 }
    )
  })
})

describe("streamed loads (a layer needing more experts than the cache holds)", () => {
  const SPECS = [
    "cache=lru",
    "cache=lru,layout=per-layer",
    "cache=lru,prefetch=fixed:1,predictor=oracle",
    "cache=two-level-lru,prefetch=adaptive,predictor=transition,order=resident-first",
    "cache=plec,prefetch=path,predictor=route-path",
    "cache=ring,prefetch=window:1,predictor=all",
    "cache=belady,prefetch=window:1,predictor=oracle"
  ]
  it("every access is served once, the cache never overfills, and nothing streams when layers fit", () => {
    let streamedRuns = 0
    fc.assert(
      fc.property(
        traceArb.filter((t) => t.model.layers >= 2),
        fc.constantFrom(...SPECS),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 6 }),
        (trace, policy, batch, slotsWanted) => {
          const { layers: L, experts: E, topK: K } = trace.model
          const perLayer = policy.includes("per-layer")
          const slots = Math.min(L * E, perLayer ? Math.max(L, slotsWanted * L) : slotsWanted)
          const r = simulate({
            trace,
            traceName: "t",
            model: tinyModel(L, E, K),
            hardware: exactHardware(100, 10, 5),
            policy,
            mode: "timed",
            cacheSlots: slots,
            batch,
            perLayer: false,
            seed: 0,
            timeline: false
          }).record
          expect(r.hits + r.late_hits + r.misses).toBe(r.accesses)
          expect(r.peak_expert_bytes).toBeLessThanOrEqual(slots * r.expert_bytes)
          const a = buildAccessStream(trace, batch)
          let need = 0
          for (let c = 0; c < a.steps * L; c++) need = Math.max(need, a.offsets[c + 1]! - a.offsets[c]!)
          const cap = perLayer ? Math.floor(slots / L) : slots
          if (need <= cap) expect(r.policy_detail.streamed_loads).toBeUndefined()
          else if (r.policy_detail.streamed_loads !== undefined) streamedRuns++
        }
      ),
      { numRuns: 300, seed: 20261202 }
    )
    expect(streamedRuns).toBeGreaterThan(20)
  })
})

describe("topByScore (heap) picks exactly what repeated maximum selection picked", () => {
  // The selection it replaced: n passes, each taking the best untaken expert (ties: lower id).
  const reference = (scores: Float64Array, n: number, out: Uint16Array): number => {
    const taken = new Uint8Array(scores.length)
    let count = 0
    for (; count < n && count < scores.length; count++) {
      let best = -1
      for (let e = 0; e < scores.length; e++) if (!taken[e] && (best < 0 || scores[e]! > scores[best]!)) best = e
      if (best < 0 || scores[best]! <= 0) break
      taken[best] = 1
      out[count] = best
    }
    return count
  }
  it("same experts, same order, ties included", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -3, max: 6 }), { minLength: 1, maxLength: 300 }),
        fc.integer({ min: 0, max: 320 }),
        (xs, n) => {
          const scores = Float64Array.from(xs, (x) => x / 2)
          const a = new Uint16Array(400),
            b = new Uint16Array(400)
          const na = topByScore(scores, n, a)
          expect(na).toBe(reference(scores, n, b))
          expect(Array.from(a.subarray(0, na))).toEqual(Array.from(b.subarray(0, na)))
        }
      ),
      { numRuns: 2000, seed: 20261202 }
    )
  })
})

describe("topByScore (histogram) picks exactly what the bounded heap picked", () => {
  // Spread scores take the histogram path; ties, crowded bins, NaN and infinities the heap's.
  const score = fc.oneof(
    { weight: 6, arbitrary: fc.double({ min: 0, max: 1, noNaN: true }) },
    { weight: 4, arbitrary: fc.integer({ min: 0, max: 2 ** 20 }) },
    { weight: 2, arbitrary: fc.double({ min: -1e300, max: 1e300, noNaN: true }) },
    { weight: 2, arbitrary: fc.integer({ min: -2, max: 3 }) },
    { weight: 1, arbitrary: fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.MIN_VALUE, -0, 2 ** 52 - 1) }
  )
  it("same experts, same order, for any scores", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.array(score, { minLength: 1, maxLength: 300 }),
          // Mostly one kind of score, as predictors produce.
          fc.array(fc.double({ min: 0, max: 1e4, noNaN: true }), { minLength: 32, maxLength: 300 }),
          fc.array(fc.integer({ min: 0, max: 5000 }), { minLength: 32, maxLength: 300 })
        ),
        fc.integer({ min: 0, max: 320 }),
        (xs, n) => {
          const scores = Float64Array.from(xs)
          const a = new Uint16Array(400),
            b = new Uint16Array(400)
          const na = topByScore(scores, n, a)
          expect(na).toBe(topByHeap(scores, n, b))
          expect(Array.from(a.subarray(0, na))).toEqual(Array.from(b.subarray(0, na)))
        }
      ),
      {
        numRuns: 3000,
        seed: 20261203,
        // A few positives beside an infinite or a subnormal maximum: no finite bin width.
        examples: [
          [[...Array(60).fill(0), 1, 2, 3, Number.POSITIVE_INFINITY], 2],
          [[...Array(60).fill(0), Number.MIN_VALUE, 1e-310, 2e-310, 0], 2]
        ]
      }
    )
  })
})

describe("route-path scores only the candidates a token without token-id statistics can pick", () => {
  // Scoring every expert, as route-path did: w.prev on the previous token's experts (once its
  // step ran) plus the token-id and popularity statistics, the top n per token, union in order.
  const reference = (ctx: PredictorContext, w: { prev: number; pop: number }, n: number) => {
    const t = ctx.trace,
      a = ctx.stream
    const { layers: L, experts: E, topK: K } = t.model
    const tables = new TokenTables(ctx)
    const stepOf = stepOfToken(ctx)
    return (step: number, layer: number): number[] => {
      const fold = ctx.training.foldOf(step)
      const got: number[] = []
      for (let i = a.stepTokenOffsets[step]!; i < a.stepTokenOffsets[step + 1]!; i++) {
        const token = a.stepTokens[i]!
        const scores = new Float64Array(E)
        if (token > 0 && t.request[token - 1] === t.request[token] && stepOf[token - 1]! < step)
          for (let k = 0; k < K; k++) scores[t.experts[((token - 1) * L + layer) * K + k]!]! += w.prev
        tables.addScores(fold, token, layer, scores, 1, w.pop)
        const picks = new Uint16Array(E)
        const m = topByScore(scores, n, picks)
        for (const e of picks.subarray(0, m)) if (!got.includes(e)) got.push(e)
      }
      return got
    }
  }
  it("the same experts in the same order as scoring every expert", () => {
    fc.assert(
      fc.property(
        traceArb,
        fc.integer({ min: 1, max: 3 }),
        fc.constantFrom(0, 0.25, 1, 3),
        fc.constantFrom(0, 0.5, 1),
        fc.integer({ min: 0, max: 4 }),
        (trace, batch, pop, prev, top) => {
          const stream = buildAccessStream(trace, batch)
          const args = [`prev=${prev}`, `pop=${pop}`]
          const ctx = { stream, trace, traceName: "t", top, training: crossFit(stream, trace), args }
          const p = routePathPredictor(ctx)
          const ref = reference(ctx, { prev, pop }, top > 0 ? top : trace.model.topK)
          const out = new Uint16Array(trace.model.experts)
          for (let s = 0; s < stream.steps; s++)
            for (let l = 0; l < trace.model.layers; l++) {
              const n = p.predict(s, l, s, 0, out)
              expect(Array.from(out.subarray(0, n))).toEqual(ref(s, l))
            }
        }
      ),
      { numRuns: 300, seed: 20261202 }
    )
  })
})

describe("DeadlineBuckets expire exactly the keys whose deadline passed", () => {
  it("against a plain map, with deadlines beyond the ring (shared buckets) and jumps in time", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            op: fc.constantFrom("set" as const, "delete" as const, "expire" as const),
            key: fc.integer({ min: 0, max: 15 }),
            ahead: fc.integer({ min: 0, max: 40 })
          }),
          { maxLength: 200 }
        ),
        (ops) => {
          const buckets = new DeadlineBuckets(16, 8)
          const ref = new Map<number, number>()
          let flat = 0
          for (const { op, key, ahead } of ops) {
            if (op === "set") {
              buckets.set(key, flat + ahead)
              ref.set(key, flat + ahead)
            } else if (op === "delete") {
              buckets.delete(key)
              ref.delete(key)
            } else {
              flat += ahead % 12
              const got: number[] = []
              buckets.expire(flat, (k) => got.push(k))
              const want = [...ref].filter(([, d]) => d < flat).map(([k]) => k)
              for (const k of want) ref.delete(k)
              expect(got.sort((a, b) => a - b)).toEqual(want.sort((a, b) => a - b))
            }
          }
        }
      ),
      { numRuns: 1000, seed: 20261202 }
    )
  })
})

describe("StampQueue yields the least stamp of its keys", () => {
  it("against a plain map, stamps mostly increasing, some added out of order, removals anywhere", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            op: fc.constantFrom("add" as const, "add" as const, "delete" as const, "min" as const),
            key: fc.integer({ min: 0, max: 11 }),
            group: fc.integer({ min: 0, max: 1 }),
            back: fc.integer({ min: 0, max: 30 })
          }),
          { maxLength: 200 }
        ),
        (ops) => {
          const q = new StampQueue(12, [4, 4])
          const ref = new Map<number, { group: number; stamp: number }>()
          let clock = 100
          // Stamps are unique per key (a recency clock); "back" re-adds a key under an old stamp.
          const used = new Set<number>()
          for (const { op, key, group, back } of ops) {
            if (op === "add" && !ref.has(key)) {
              let stamp = back === 0 || back > 20 ? ++clock : clock - back
              while (used.has(stamp)) stamp = ++clock
              used.add(stamp)
              q.add(key, group, stamp)
              ref.set(key, { group, stamp })
            } else if (op === "delete" && ref.has(key)) {
              q.delete(key)
              ref.delete(key)
            } else if (op === "min") {
              for (const g of [0, 1]) {
                const mine = [...ref].filter(([, v]) => v.group === g).sort((a, b) => a[1].stamp - b[1].stamp)
                expect(q.min(g)).toBe(mine.length > 0 ? mine[0]![0] : -1)
              }
            }
            expect(q.has(key)).toBe(ref.has(key))
          }
        }
      ),
      { numRuns: 1000, seed: 20261202 }
    )
  })
})

describe("PositionSet answers floor and ceil as a sorted list does", () => {
  it("against a plain set, sizes across one to three summary levels", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(1, 31, 32, 33, 1000, 1024, 1025, 40_000),
        fc.array(
          fc.record({
            op: fc.constantFrom("add" as const, "add" as const, "delete" as const, "query" as const),
            at: fc.double({ min: 0, max: 1, noNaN: true })
          }),
          { maxLength: 150 }
        ),
        (size, ops) => {
          const set = new PositionSet(size)
          const ref = new Set<number>()
          for (const { op, at } of ops) {
            const p = Math.min(size - 1, Math.floor(at * size))
            if (op === "add") {
              set.add(p)
              ref.add(p)
            } else if (op === "delete") {
              set.delete(p)
              ref.delete(p)
            }
            const sorted = [...ref].sort((a, b) => a - b)
            expect(set.floor(p)).toBe(sorted.filter((x) => x <= p).at(-1) ?? -1)
            expect(set.ceil(p)).toBe(sorted.find((x) => x >= p) ?? -1)
            expect(set.floor(size - 1)).toBe(sorted.at(-1) ?? -1)
            expect(set.ceil(0)).toBe(sorted[0] ?? -1)
            expect(set.has(p)).toBe(ref.has(p))
          }
        }
      ),
      { numRuns: 500, seed: 20261203 }
    )
  })
})
