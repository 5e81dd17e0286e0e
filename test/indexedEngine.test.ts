import { describe, expect, it } from "@jest/globals"
import fc from "fast-check"
import { buildAccessStream } from "../traces/batching.ts"
import type { Trace } from "../traces/trace.ts"
import { makeGeometry } from "../policies/cacheGeometry.ts"
import type { EvictionContext, EvictionPolicy } from "../policies/evictionPolicy.ts"
import { BeladyPolicy } from "../policies/belady.ts"
import { LfuPolicy } from "../policies/lfu.ts"
import { computeNextUse } from "../policies/nextUse.ts"
import { evictionContext, makeEviction, predictors, prefetchers } from "../policies/registry.ts"
import { parsePolicySpec } from "../policies/spec.ts"
import { crossFit } from "../policies/training.ts"
import type { CommandLog } from "../sim/commandLog.ts"
import { runTimed, type TimedInputs } from "../sim/engine.ts"
import { replayCacheOnly } from "../sim/cacheOnly.ts"
import type { TimingModel } from "../sim/timing.ts"
import { traceArb } from "./helpers/arbitraries.ts"
import { runTimed as runReference } from "./reference/engine.ts"
import { BeladyHeapPolicy } from "./reference/beladyHeap.ts"
import { LfuHeapPolicy } from "./reference/lfuHeap.ts"

// The engine before its hot paths were indexed (test/reference/: the copy-queue scan for the
// newest prefetch, the in-flight list scans; policies scanning past blocked keys), kept to prove
// the indexed engine (with LRU keeping blocked keys aside) decides the same.
const SPECS = [
  "cache=lru",
  "cache=belady",
  "cache=lfu",
  "cache=fifo",
  "cache=lru,prefetch=fixed:1,predictor=oracle",
  "cache=lru,prefetch=fixed:2,predictor=transition",
  "cache=lru,prefetch=window:2,predictor=prev-token",
  "cache=belady,prefetch=window:3,predictor=oracle",
  "cache=two-level-lru,prefetch=adaptive,predictor=transition",
  "cache=plec,prefetch=path,predictor=route-path",
  // Run-time correction of predictions made in the step before (targets past the step's end).
  "cache=plec,prefetch=fixed:3,predictor=prev-token",
  "cache=ring,prefetch=window:2,predictor=all",
  "cache=lru,prefetch=window:2,predictor=eam,order=resident-first"
]

const timing = (transferNs: number): TimingModel => ({
  transferNs,
  expertBytes: 1,
  expertNs: (t) => 7 * t + 3,
  layerNs: (t) => 5 + t
})

/** Fresh inputs for one replay: policies carry state, so each engine gets its own. */
function inputs(
  trace: Trace,
  specText: string,
  slots: number,
  batch: number,
  perLayer: boolean,
  engines: number,
  notifiesBlocking: boolean,
  /** Replaces the spec's eviction policy (a reference implementation). */
  evictionOf?: (ctx: EvictionContext) => EvictionPolicy
) {
  const spec = parsePolicySpec(specText)
  const stream = buildAccessStream(trace, batch)
  const g = makeGeometry(stream, { slots }, perLayer)
  const eviction = evictionOf
    ? evictionOf(evictionContext(stream, g, undefined, notifiesBlocking))
    : makeEviction(spec.cache, spec.cacheArgs, stream, g, undefined, specText, notifiesBlocking)
  const training = crossFit(stream, trace)
  const predictor =
    spec.predictor === null
      ? null
      : predictors[spec.predictor]!.make({ stream, trace, traceName: "t", top: spec.top, training, args: [] })
  const L = trace.model.layers
  const commands: CommandLog = { commands: [], preloaded: [] }
  const inp: TimedInputs = {
    stream,
    geometry: g,
    timing: timing(40),
    eviction,
    future: eviction.needsFuture ? computeNextUse(stream) : null,
    predictor,
    prefetcher: prefetchers[spec.prefetch]!(
      spec.prefetchArgs.map((a) => (/^\d+$/.test(a) ? String(Math.min(Number(a), L - 1)) : a)),
      { layers: L, experts: trace.model.experts, topK: trace.model.topK, slots },
      specText
    ),
    copyEngines: engines,
    timeline: null,
    order: spec.order,
    commands
  }
  return inp
}

/** A random replay: trace, policy, room beyond the largest layer, batch, layout, copy engines. */
const replayArb = (specs: string[]) =>
  fc.record({
    trace: traceArb.filter((t) => t.model.layers >= 2),
    spec: fc.constantFrom(...specs),
    extra: fc.integer({ min: 0, max: 8 }),
    batch: fc.integer({ min: 1, max: 3 }),
    perLayer: fc.boolean(),
    engines: fc.integer({ min: 1, max: 2 })
  })

/** Slots for every layer to fit at once (so nothing streams), plus `extra`. */
function roomFor(trace: Trace, batch: number, perLayer: boolean, extra: number): number {
  const a = buildAccessStream(trace, batch)
  let need = 1
  for (let c = 0; c < a.steps * a.layers; c++) need = Math.max(need, a.offsets[c + 1]! - a.offsets[c]!)
  return (perLayer ? need * trace.model.layers : need) + extra
}

describe("the indexed engine decides exactly as the scanning one did (fast-check)", () => {
  it("same counts, same times, same command log, for every policy family", () => {
    fc.assert(
      fc.property(replayArb(SPECS), ({ trace, spec, extra, batch, perLayer, engines }) => {
        const slots = roomFor(trace, batch, perLayer, extra)
        // The indexed engine with policies that keep blocked keys aside; the scanning one without.
        const x = inputs(trace, spec, slots, batch, perLayer, engines, true)
        const y = inputs(trace, spec, slots, batch, perLayer, engines, false)
        const { streamedLoads, ...now } = runTimed(x)
        const before = runReference(y)
        // Every layer fits here, so nothing is streamed and the decisions are the reference's.
        expect(streamedLoads).toBe(0)
        expect(now).toEqual(before)
        expect(x.commands).toEqual(y.commands)
      }),
      { numRuns: 300, seed: 20261201 }
    )
  })

  it("cache-only: LRU keeping blocked keys aside equals the scanning LRU under every accounting", () => {
    fc.assert(
      fc.property(
        traceArb,
        fc.integer({ min: 0, max: 8 }),
        fc.integer({ min: 1, max: 3 }),
        fc.constantFrom("insert" as const, "batch" as const),
        fc.constantFrom("first" as const, "refresh" as const),
        (trace, extra, batch, evict, duplicates) => {
          const stream = buildAccessStream(trace, batch, undefined, { lastUseOrder: duplicates === "refresh" })
          let need = 1
          for (let c = 0; c < stream.steps * stream.layers; c++)
            need = Math.max(need, stream.offsets[c + 1]! - stream.offsets[c]!)
          const g = makeGeometry(stream, { slots: need + extra }, false)
          const acc = { evict, duplicates, prefill: "chunk" as const }
          const run = (notifies: boolean) =>
            replayCacheOnly(stream, g, makeEviction("lru", [], stream, g, undefined, "lru", notifies), null, acc, true)
          expect(run(true)).toEqual(run(false))
        }
      ),
      { numRuns: 300, seed: 20261201 }
    )
  })

  /** `make` decides exactly as the frozen `reference`, timed (every spec) and cache-only. */
  const sameAsReference = (
    specs: string[],
    make: (ctx: EvictionContext) => EvictionPolicy,
    reference: (ctx: EvictionContext) => EvictionPolicy,
    seed: number
  ) =>
    fc.assert(
      fc.property(replayArb(specs), ({ trace, spec, extra, batch, perLayer, engines }) => {
        const slots = roomFor(trace, batch, perLayer, extra)
        const a = buildAccessStream(trace, batch)
        const x = inputs(trace, spec, slots, batch, perLayer, engines, true, make)
        const y = inputs(trace, spec, slots, batch, perLayer, engines, true, reference)
        expect(runTimed(x)).toEqual(runTimed(y))
        expect(x.commands).toEqual(y.commands)
        const g = makeGeometry(a, { slots }, perLayer)
        const ctx = evictionContext(a, g)
        const next = make(ctx).needsFuture ? computeNextUse(a).next : null
        const only = (policy: EvictionPolicy) => replayCacheOnly(a, g, policy, next, undefined, true)
        expect(only(make(ctx))).toEqual(only(reference(ctx)))
      }),
      { numRuns: 300, seed }
    )

  it("Belady's position index evicts exactly as its heap of next uses did, timed and cache-only", () => {
    sameAsReference(
      [
        "cache=belady",
        "cache=belady,prefetch=window:3,predictor=oracle",
        "cache=belady,prefetch=fixed:1,predictor=prev-token,order=resident-first"
      ],
      (ctx) => new BeladyPolicy(ctx),
      (ctx) => new BeladyHeapPolicy(ctx),
      20261203
    )
  })

  it("LFU's frequency lists evict exactly as its (frequency, recency, key) heap did, timed and cache-only", () => {
    sameAsReference(
      [
        "cache=lfu",
        "cache=lfu,prefetch=fixed:1,predictor=transition",
        "cache=lfu,prefetch=window:2,predictor=all,order=resident-first"
      ],
      (ctx) => new LfuPolicy(ctx),
      (ctx) => new LfuHeapPolicy(ctx),
      20261202
    )
  })
})
