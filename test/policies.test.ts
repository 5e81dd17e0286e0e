import { describe, expect, it } from "@jest/globals"
import fc from "fast-check"
import { buildAccessStream, buildSteps } from "../traces/batching.ts"
import { GAP } from "../traces/trace.ts"
import { simulate } from "../workflows/simulate.ts"
import { adaptivePrefetcher } from "../policies/adaptiveStep.ts"
import { ProtectedLruPolicy } from "../policies/protectedLru.ts"
import { plecAllocation } from "../policies/plec.ts"
import { balancedSplit, improveBySwaps, scheduleTokens } from "../policies/tokenScheduler.ts"
import { improveBySwaps as improveBySwapsBefore } from "./reference/improveBySwaps.ts"
import { balancedSplit as balancedSplitBefore } from "./reference/balancedSplit.ts"
import { crossFit, sliceTokens } from "../policies/training.ts"
import { popularityPredictor } from "../policies/popularity.ts"
import type { PrefetchHost } from "../policies/prefetcher.ts"
import { exactHardware, tinyModel, tinyTrace } from "./helpers/fixtures.ts"

describe("EF-A adaptive step S", () => {
  // 8 layers, top-1, one token per step: N_e = 1; transfer = observed layer time, so the formula gives S = 1.
  const stream = buildAccessStream(
    tinyTrace(
      Array.from({ length: 4 }, () => Array.from({ length: 8 }, (_, l) => [l % 4])),
      4
    ),
    1
  )
  const fakeHost = () => {
    const counters = { stalls: 0, wasted: 0 }
    const S: number[] = []
    const host: PrefetchHost = {
      stream,
      transferNs: 100,
      observedLayerNs: () => 100,
      predict: () => 0,
      distribution: () => false,
      prefetch: () => false,
      cached: () => false,
      stallEvents: () => counters.stalls,
      wastedPrefetches: () => counters.wasted,
      trace: (_name, v) => {
        S.push(v)
      }
    }
    return { host, counters, S }
  }
  it("starts at ⌈N_e·E_s/(C_s·T_l)⌉, rises after stalls and falls after over-prefetch", () => {
    const p = adaptivePrefetcher([], 8, 4, 1, "test")
    const { host, counters, S } = fakeHost()
    p.onGate(host, 0, 0)
    expect(S.at(-1)).toBe(1)
    counters.stalls += 2 // two experts made compute wait
    p.onLayerEnd!(host, 0, 0)
    p.onGate(host, 0, 1)
    expect(S.at(-1)).toBe(2)
    counters.stalls += 3
    p.onLayerEnd!(host, 0, 1)
    p.onGate(host, 0, 2)
    expect(S.at(-1)).toBe(3)
    counters.wasted += 4 // four prefetches evicted unused
    p.onLayerEnd!(host, 0, 2)
    p.onGate(host, 0, 3)
    expect(S.at(-1)).toBe(2)
  })
  it("the formula scales with transfer time over layer time", () => {
    const p = adaptivePrefetcher([], 8, 4, 1, "test")
    const { host, S } = fakeHost()
    p.onGate({ ...host, transferNs: 350 }, 0, 0)
    expect(S.at(-1)).toBe(4)
  })
  it("S over time is part of the result", () => {
    const t = tinyTrace(
      Array.from({ length: 6 }, (_, i) => Array.from({ length: 4 }, (_, l) => [(i + l) % 4])),
      4
    )
    const r = simulate({
      trace: t,
      traceName: "t",
      model: tinyModel(4, 4, 1),
      hardware: exactHardware(100, 10, 5),
      policy: "cache=two-level-lru,prefetch=adaptive,predictor=oracle",
      mode: "timed",
      cacheSlots: 4,
      batch: 1,
      perLayer: false,
      seed: 0,
      timeline: false
    }).record
    const S = r.policy_detail.S as { mean: number; changes: Array<[number, number, number]> }
    expect(S.changes.length).toBeGreaterThan(0)
    expect(S.mean).toBeGreaterThanOrEqual(1)
  })
})

describe("two-level LRU", () => {
  const make = (recent: number) =>
    new ProtectedLruPolicy(
      "two-level-lru",
      {
        numKeys: 8,
        capacities: Float64Array.of(8),
        maxKeys: Int32Array.of(8),
        unitOfLayer: null,
        layers: 2,
        experts: 4
      },
      recent
    )
  it("evicts a low-priority expert before an older high-priority one", () => {
    const p = make(0)
    const none = new Uint8Array(8)
    p.onLayer(10)
    for (const k of [0, 1, 2]) p.insert(k, 0)
    p.onLayer(11) // 0, 1, 2 were used at layer 10: low now
    p.onPredicted(0, 15) // 0 is predicted within the window: high
    expect(p.victim(0, none, true)).toBe(1)
    expect(p.victim(0, none, false)).toBe(1)
  })
  it("a prefetch never displaces a high expert; a demand load may", () => {
    const p = make(4)
    const none = new Uint8Array(8)
    p.onLayer(0)
    for (const k of [0, 1]) p.insert(k, 0)
    expect(p.victim(0, none, false)).toBe(-1)
    expect(p.victim(0, none, true)).toBe(0)
  })
})

describe("cache-aware reordering", () => {
  it("changes when experts run, never which experts (and how many tokens) each layer uses", () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 4, maxLength: 4 }), {
          minLength: 2,
          maxLength: 12
        }),
        fc.integer({ min: 1, max: 3 }),
        (seeds, batch) => {
          const routes = seeds.map((row) => row.map((s) => [s, (s + 1 + (s % 3)) % 6]))
          const t = tinyTrace(routes, 6, seeds.map((_, i) => i % 3).sort())
          const run = (order: string) =>
            simulate({
              trace: t,
              traceName: "t",
              model: tinyModel(4, 6, 2),
              hardware: exactHardware(50, 10, 5),
              policy: `cache=lru,prefetch=fixed:1,predictor=prev-token,order=${order}`,
              mode: "timed",
              cacheSlots: 8,
              batch,
              perLayer: false,
              seed: 0,
              timeline: true
            })
          const ffns = (o: ReturnType<typeof run>) =>
            o
              .timeline!.spans.filter((s) => s.cat === "expert")
              .map((s) => `${s.name}×${s.args!.tokens}`)
              .sort()
          const a = run("as-listed"),
            b = run("resident-first")
          expect(ffns(b)).toEqual(ffns(a))
          expect(b.record.accesses).toBe(a.record.accesses)
        }
      ),
      { numRuns: 60, seed: 7 }
    )
  })
})

describe("EF-H PLEC", () => {
  it("allocates slots in proportion to predicted demand (Fig. 5: demand 3 + 2, budget 4 → 3 and 1)", () => {
    expect(plecAllocation([3, 2], 4)).toEqual([3, 1])
    expect(plecAllocation([2, 2], 8)).toEqual([2, 2])
    expect(plecAllocation([6, 2, 2], 5)).toEqual([3, 1, 1])
  })
  it("reproduces Fig. 5: e12, e13, e14, e22 prefetched; e12's slot is reused for e23 once e12 is done", () => {
    // 2 layers × 4 experts (e1x = layer 0, e2x = layer 1; expert ids 1..3), one token, top-3.
    const t = tinyTrace(
      [
        [
          [1, 2, 3],
          [1, 2, 3]
        ]
      ],
      4
    )
    const predicted = new Uint16Array(2 * 3).fill(GAP)
    predicted.set([1, 2, 3], 0) // layer 0: e12, e13, e14
    predicted.set([1, 2], 3) // layer 1: e22, e23 (e24 will be a miss: run-time correction)
    const trace = { ...t, predictionDepth: 3, predicted }
    const out = simulate({
      trace,
      traceName: "fig5",
      model: tinyModel(2, 4, 3),
      hardware: exactHardware(100, 10, 5),
      policy: "cache=plec,prefetch=path,predictor=recorded",
      mode: "timed",
      cacheSlots: 4,
      batch: 1,
      perLayer: false,
      seed: 0,
      timeline: true
    })
    const tl = out.timeline!
    // Queued prefetches of layer 0 are promoted to demand priority at its gate; the order stands.
    const loads = tl.spans.filter((s) => s.name.startsWith("H2D")).map((s) => s.name)
    expect(loads).toEqual(["H2D L0 E1", "H2D L0 E2", "H2D L0 E3", "H2D L1 E1", "H2D L1 E2", "H2D L1 E3"])
    expect(out.record.prefetches_issued).toBe(5)
    const e12Done = tl.spans.find((s) => s.name === "L0 E1 FFN")!.end
    const evictE12 = tl.instants.find(([name]) => name === "evict L0 E1")!
    expect(evictE12[2]).toBe(e12Done)
    expect(out.record.misses).toBe(1) // e24, loaded on demand
  })
})

describe("EF-H token scheduler", () => {
  it("decides only for units of more than B requests, and charges host time per decision", () => {
    // 3 requests at batch 2: units of 4 slots hold 3 requests (split 2 + 1) until one ends, then 2 (one batch).
    const requests = [0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2]
    const routes = requests.map((r, i) => [[(r + i) % 4], [(2 * r + i) % 4]])
    const t = tinyTrace(routes, 4, requests)
    const s = scheduleTokens(t, 2, "oracle", "t")
    expect(s.decisions).toBe(3)
    expect(Array.from(s.decisionStart)).toEqual([0, 2, 4])
    const run = (policy: string) =>
      simulate({
        trace: t,
        traceName: "t",
        model: tinyModel(2, 4, 1),
        hardware: exactHardware(100, 10, 5),
        policy,
        mode: "timed",
        cacheSlots: 4,
        batch: 2,
        perLayer: false,
        seed: 0,
        timeline: false
      }).record
    const plain = run("cache=lru,scheduler=ts")
    const charged = run("cache=lru,scheduler=ts:charge=1000")
    expect(plain.host_ns).toBe(0)
    expect(charged.host_ns).toBe(3000)
    expect(charged.total_ns).toBe(plain.total_ns + 3000)
  })
  /** Items' paths of 1..maxWords words each, minItems..maxItems items. */
  const pathsOf = (maxWords: number, minItems: number, maxItems: number) =>
    fc.integer({ min: 1, max: maxWords }).chain((words) =>
      fc
        .array(
          fc
            .array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: words, maxLength: words })
            .map((w) => Uint32Array.from(w)),
          { minLength: minItems, maxLength: maxItems }
        )
        .map((p) => ({ words, paths: p }))
    )
  const pathsArb = pathsOf(3, 1, 24)
  // More than 32 items: masks of several words (no merged columns).
  const manyPathsArb = pathsOf(2, 33, 70)
  const activated = (paths: Uint32Array[], members: number[], words: number) => {
    let n = 0
    for (let w = 0; w < words; w++) {
      let or = 0
      for (const m of members) or |= paths[m]![w]!
      n += (or >>> 0).toString(2).split("1").length - 1
    }
    return n
  }
  it("splits into equal halves and never increases activated pairs against the unscheduled split", () => {
    fc.assert(
      fc.property(pathsArb, ({ words, paths }) => {
        const g = balancedSplit(paths, words)
        const n = paths.length
        const idx = (v: number, grp: ArrayLike<number>) =>
          Array.from({ length: n }, (_, i) => i).filter((i) => grp[i] === v)
        expect(idx(0, g).length).toBe(Math.ceil(n / 2))
        const naive = Array.from({ length: n }, (_, i) => (i < Math.ceil(n / 2) ? 0 : 1))
        const cost = (grp: ArrayLike<number>) =>
          activated(paths, idx(0, grp), words) + activated(paths, idx(1, grp), words)
        expect(cost(g)).toBeLessThanOrEqual(cost(naive))
      }),
      { numRuns: 200, seed: 11 }
    )
  })
  it("swaps exactly as the word-by-word search did, from any split", () => {
    fc.assert(
      fc.property(
        fc.oneof(pathsArb, manyPathsArb).chain(({ words, paths }) =>
          fc.record({
            words: fc.constant(words),
            // Sparse paths too (real ones set a few hundred of L·E bits): AND a few random words.
            paths: fc.constant(paths),
            sparse: fc.boolean(),
            start: fc.array(fc.integer({ min: 0, max: 1 }), { minLength: paths.length, maxLength: paths.length })
          })
        ),
        ({ words, paths, sparse, start }) => {
          const ps = sparse ? paths.map((p, i) => p.map((w, k) => w & paths[(i + k + 1) % paths.length]![k]!)) : paths
          const a = Uint8Array.from(start),
            b = Uint8Array.from(start)
          improveBySwaps(ps, words, a)
          improveBySwapsBefore(ps, words, b)
          expect(Array.from(a)).toEqual(Array.from(b))
        }
      ),
      { numRuns: 500, seed: 12 }
    )
  })
  it("splits exactly as with word-by-word distances, dense or sparse paths, few items or many", () => {
    fc.assert(
      fc.property(fc.oneof(pathsArb, manyPathsArb), fc.boolean(), ({ words, paths }, sparse) => {
        const ps = sparse ? paths.map((p, i) => p.map((w, k) => w & paths[(i + k + 1) % paths.length]![k]!)) : paths
        expect(Array.from(balancedSplit(ps, words))).toEqual(Array.from(balancedSplitBefore(ps, words)))
      }),
      { numRuns: 300, seed: 13 }
    )
  })
  it("never loses or duplicates a token, keeps each request's tokens in order, counts activated pairs", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 2, maxLength: 40 }),
        (batch, reqSeeds) => {
          const requests = reqSeeds.map((r) => r).sort((a, b) => a - b)
          const routes = requests.map((r, i) =>
            Array.from({ length: 3 }, (_, l) => [
              (r * 3 + i + l) % 8,
              (r + l + 1 + i) % 8 === (r * 3 + i + l) % 8 ? (r + l + 2 + i) % 8 : (r + l + 1 + i) % 8
            ])
          )
          const t = tinyTrace(routes, 8, requests)
          const s = scheduleTokens(t, batch, "oracle", "t")
          expect(Array.from(s.tokens).sort((a, b) => a - b)).toEqual(Array.from({ length: t.tokens }, (_, i) => i))
          const seen = new Map<number, number>()
          for (const tok of s.tokens) {
            expect(tok).toBeGreaterThan(seen.get(t.request[tok]!) ?? -1)
            seen.set(t.request[tok]!, tok)
          }
          for (let st = 0; st + 1 < s.offsets.length; st++) {
            const reqs = Array.from(s.tokens.subarray(s.offsets[st]!, s.offsets[st + 1]!), (tok) => t.request[tok])
            expect(new Set(reqs).size).toBe(reqs.length) // one token per request per batch (decode)
            expect(reqs.length).toBeLessThanOrEqual(batch) // a split never shrinks a batch below B
          }
          // Units of at most B requests are one batch, undecided; the others are decisions.
          const unitEnd = [...s.unitStart.slice(1), s.offsets.length - 1]
          const split = Array.from(s.unitStart).filter((u, i) => unitEnd[i]! - u === 2)
          expect(Array.from(s.decisionStart)).toEqual(split)
          expect(s.decisions).toBe(split.length)
          // With no more requests than B, the schedule is plain continuous batching.
          if (new Set(requests).size <= batch) {
            const plain = buildSteps(t, batch)
            expect(Array.from(s.offsets)).toEqual(Array.from(plain.offsets))
            expect(Array.from(s.tokens)).toEqual(Array.from(plain.tokens))
          }
          expect(s.activatedAfter).toBeLessThanOrEqual(s.activatedBefore)
          // Activated pairs after: each batch's distinct (layer, expert) pairs under the true routes, summed.
          let after = 0
          for (let st = 0; st + 1 < s.offsets.length; st++) {
            const pairs = new Set<number>()
            for (const tok of s.tokens.subarray(s.offsets[st]!, s.offsets[st + 1]!))
              routes[tok]!.forEach((experts, l) => {
                for (const e of experts) pairs.add(l * 8 + e)
              })
            after += pairs.size
          }
          expect(s.activatedAfter).toBe(after)
        }
      ),
      { numRuns: 100, seed: 5 }
    )
  })
})

describe("learned predictors never score the data they trained on", () => {
  it("cross-fitting: each fold's training tokens and the tokens it predicts are disjoint", () => {
    const t = tinyTrace(
      Array.from({ length: 20 }, (_, i) => [[i % 4]]),
      4,
      Array.from({ length: 20 }, (_, i) => Math.floor(i / 5))
    )
    const a = buildAccessStream(t, 2)
    const tr = crossFit(a, t)
    tr.folds.forEach((slices, f) => {
      const trained = new Set(slices.flatMap((s) => Array.from(sliceTokens(s))))
      for (let s = 0; s < a.steps; s++) {
        if (tr.foldOf(s) !== f) continue
        for (let i = a.stepTokenOffsets[s]!; i < a.stepTokenOffsets[s + 1]!; i++)
          expect(trained.has(a.stepTokens[i]!)).toBe(false)
      }
    })
  })
  it("a predictor trained on the other half names only the other half's experts", () => {
    // First half of the tokens uses experts 0-1, second half experts 2-3.
    const t = tinyTrace(
      Array.from({ length: 16 }, (_, i) => [[i < 8 ? i % 2 : 2 + (i % 2)]]),
      4
    )
    const a = buildAccessStream(t, 1)
    const p = popularityPredictor({ stream: a, trace: t, traceName: "t", top: 2, training: crossFit(a, t), args: [] })
    const out = new Uint16Array(4)
    const n0 = p.predict(0, 0, 0, 0, out)
    expect(Array.from(out.subarray(0, n0)).sort()).toEqual([2, 3])
    const n1 = p.predict(15, 0, 15, 0, out)
    expect(Array.from(out.subarray(0, n1)).sort()).toEqual([0, 1])
  })
  it("every predictor's run reports B_acc next to precision and recall", () => {
    const t = tinyTrace(
      Array.from({ length: 12 }, (_, i) => Array.from({ length: 3 }, (_, l) => [(i + l) % 4])),
      4,
      Array.from({ length: 12 }, (_, i) => Math.floor(i / 4))
    )
    for (const predictor of [
      "oracle",
      "prev-token",
      "prev-layer",
      "transition",
      "popularity",
      "hybrid",
      "route-path",
      "eam"
    ]) {
      const r = simulate({
        trace: t,
        traceName: "t",
        model: tinyModel(3, 4, 1),
        hardware: exactHardware(100, 10, 5),
        policy: `cache=lru,prefetch=fixed:1,predictor=${predictor}`,
        mode: "timed",
        cacheSlots: 4,
        batch: 1,
        perLayer: false,
        seed: 0,
        timeline: false
      }).record
      expect([typeof r.b_acc, typeof r.prediction_precision, typeof r.prediction_recall]).toEqual([
        "number",
        "number",
        "number"
      ])
    }
  })
})
