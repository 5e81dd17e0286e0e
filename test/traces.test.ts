import { describe, expect, it } from "@jest/globals"
import fc from "fast-check"
import { buildAccessStream, buildSteps } from "../traces/batching.ts"
import { loadTrace } from "../traces/load.ts"
import { traceStats } from "../traces/stats.ts"
import { expertBytes, loadHardware, loadModel, residentBytes, slotsForMemory } from "../base/profiles.ts"
import { simulate } from "../workflows/simulate.ts"
import { join } from "node:path"
import { cli } from "./helpers/cli.ts"
import { traceArb } from "./helpers/arbitraries.ts"
import { haveSharedTrace, MIXTRAL_TRACE, tempDir, tinyTrace, withShared } from "./helpers/fixtures.ts"

describe("trace stats on the real Mixtral trace", () => {
  const withTrace = withShared(MIXTRAL_TRACE, "trace stats on the real Mixtral trace")
  const s = haveSharedTrace ? traceStats(loadTrace(MIXTRAL_TRACE, loadModel("mixtral-8x7b"))) : (null as never)
  withTrace("matches the trace README: 338 tokens, 2 requests, 37 gaps, 39.9% previous-token reuse", () => {
    expect([s.tokens, s.requests, s.layers, s.experts, s.top_k, s.gaps]).toEqual([338, 2, 32, 8, 2, 37])
    expect(s.mean_reuse).toBeCloseTo(0.399, 3)
  })
  withTrace(
    "reports near-uniform popularity and above-independent transitions (as the aggregates say of Mixtral)",
    () => {
      expect(s.mean_entropy).toBeGreaterThan(0.95)
      expect(s.transition_top1_share!).toBeGreaterThan(s.transition_independent_share!)
    }
  )
})

describe("continuous batching", () => {
  // Requests: A (3 tokens), B (1 token), C (2 tokens); B = 2 slots.
  const t = tinyTrace([[[0]], [[1]], [[2]], [[3]], [[0]], [[1]]], 4, [0, 0, 0, 1, 2, 2])
  it("a finished request frees its slot for the next one at the next step", () => {
    const { offsets, tokens } = buildSteps(t, 2)
    const steps = Array.from({ length: offsets.length - 1 }, (_, s) =>
      Array.from(tokens.subarray(offsets[s]!, offsets[s + 1]!))
    )
    // step 0: A0, B0 · step 1: A1, C0 (B finished) · step 2: A2, C1
    expect(steps).toEqual([
      [0, 3],
      [1, 4],
      [2, 5]
    ])
  })
  it("one access per distinct (step, layer, expert), counting tokens per expert", () => {
    const a = buildAccessStream(tinyTrace([[[0, 1]], [[1, 2]]], 4, [0, 1]), 2)
    expect(Array.from(a.keys)).toEqual([0, 1, 2])
    expect(Array.from(a.counts!)).toEqual([1, 2, 1])
  })
  it("counts past 16 bits where a step is that wide", () => {
    const T = 70_000
    const wide = buildAccessStream(
      tinyTrace(
        Array.from({ length: T }, () => [[0]]),
        2,
        Array.from({ length: T }, (_, i) => i)
      ),
      T
    )
    expect(wide.counts).toBeInstanceOf(Int32Array)
    expect(Array.from(wide.counts!)).toEqual([T])
    expect(buildAccessStream(tinyTrace([[[0]], [[0]]], 2, [0, 1]), 2).counts).toBeInstanceOf(Uint16Array)
  })
  it("the stream is the naive one: each cell's experts in first-listing order, counts, max, last-use order", () => {
    fc.assert(
      fc.property(traceArb, fc.integer({ min: 1, max: 4 }), (trace, batch) => {
        const a = buildAccessStream(trace, batch, undefined, { lastUseOrder: true })
        const { offsets, tokens } = buildSteps(trace, batch)
        const L = trace.model.layers,
          K = trace.model.topK
        const keys: number[] = [],
          counts: number[] = [],
          order: number[] = []
        let repeats = 0
        for (let s = 0; s + 1 < offsets.length; s++)
          for (let l = 0; l < L; l++) {
            // expert → [its access's index, the listing where it was last seen]
            const cell = new Map<number, [number, number]>()
            let listing = 0
            for (let ti = offsets[s]!; ti < offsets[s + 1]!; ti++)
              for (let k = 0; k < K; k++) {
                const e = trace.experts[(tokens[ti]! * L + l) * K + k]!
                const had = cell.get(e)
                if (had) {
                  counts[had[0]]!++
                  repeats++
                  had[1] = listing++
                } else {
                  cell.set(e, [keys.length, listing++])
                  keys.push(e)
                  counts.push(1)
                }
              }
            order.push(...[...cell.values()].sort((x, y) => x[1] - y[1]).map(([i]) => i))
          }
        expect(Array.from(a.keys)).toEqual(keys)
        // null: one-token steps, a view of the trace, every count 1.
        expect(a.counts === null ? counts.map(() => 1) : Array.from(a.counts)).toEqual(counts)
        expect(a.maxCount).toBe(Math.max(1, ...counts))
        expect(a.lastUseOrder === null ? null : Array.from(a.lastUseOrder)).toEqual(repeats > 0 ? order : null)
      }),
      { numRuns: 300, seed: 20261202 }
    )
  })
  it("prefill tokens of a request run together in its first step", () => {
    const p = tinyTrace([[[0]], [[1]], [[2]], [[3]]], 4, [0, 0, 0, 0])
    const withPhase = { ...p, phase: Uint8Array.of(1, 1, 0, 0) }
    const { offsets } = buildSteps(withPhase, 1)
    expect(Array.from(offsets)).toEqual([0, 2, 3, 4])
  })
})

describe("cache sizes", () => {
  it("--gpu-mem gives (budget - resident weights) / expert bytes slots", () => {
    const m = loadModel("mixtral-8x7b")
    const budget = residentBytes(m) + 10 * expertBytes(m) + 5
    expect(slotsForMemory(m, budget)).toBe(10)
  })
  it("per-layer partitioning splits slots evenly and never shares them across layers", () => {
    const t = tinyTrace(
      [
        [[0], [0]],
        [[1], [1]],
        [[0], [0]]
      ],
      2
    )
    const model = { ...loadModel("mixtral-8x7b"), layers: 2, experts: 2, topK: 1 }
    const run = (perLayer: boolean, slots: number) =>
      simulate({
        trace: t,
        traceName: "t",
        model,
        hardware: loadHardware("h100-pcie"),
        policy: "cache=lru",
        mode: "cache-only",
        cacheSlots: slots,
        batch: 1,
        perLayer,
        seed: 0,
        timeline: false
      }).record
    expect(run(true, 4).misses).toBe(4) // 2 slots per layer: every expert stays
    expect(run(true, 2).misses).toBe(6) // 1 slot per layer: every access misses
    expect(run(false, 2).misses).toBe(6)
    expect(run(true, 2).cache_layout).toBe("per-layer")
  })
})

describe("trace gen --generator zipf --lookahead", () => {
  it("records the pre-gate picks it is asked for, on the same routes", () => {
    const dir = tempDir("ef-zipf-la-")
    const plain = join(dir, "plain.eft"),
      la = join(dir, "la.eft")
    const gen = (out: string, extra: string[]) =>
      cli(
        ["trace", "gen", "--preset", "switch-base-128", "--generator", "zipf", "--tokens", "50"].concat([
          "--requests",
          "2",
          "--seed",
          "3",
          "--out",
          out,
          ...extra
        ])
      )
    expect(gen(plain, []).code).toBe(0)
    expect(gen(la, ["--lookahead", "2"]).code).toBe(0)
    const a = loadTrace(plain, null),
      b = loadTrace(la, null)
    expect(a.lookaheadDepth).toBe(0)
    expect(b.lookaheadDepth).toBe(2)
    expect(Array.from(b.experts)).toEqual(Array.from(a.experts))
  })
})
