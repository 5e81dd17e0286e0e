import { afterAll, describe, expect, it } from "@jest/globals"
import fc from "fast-check"
import { InputError, UsageError } from "../base/errors.ts"
import { buildAccessStream } from "../traces/batching.ts"
import { generateZipfTrace } from "../traces/synthetic.ts"
import type { Trace } from "../traces/trace.ts"
import { makeGeometry } from "../policies/cacheGeometry.ts"
import type { Predictor } from "../policies/predictor.ts"
import { makeEviction, predictors, prefetchers } from "../policies/registry.ts"
import { parsePolicySpec } from "../policies/spec.ts"
import { crossFit } from "../policies/training.ts"
import { runTimed } from "../sim/engine.ts"
import { forEachAnswer, forEachPrediction } from "../sim/predictionOrder.ts"
import { predictAhead, type PredictAhead } from "../workflows/predictAhead.ts"
import { trainAhead } from "../workflows/trainAhead.ts"
import { scheduleAhead } from "../workflows/scheduleAhead.ts"
import { scheduleTokens } from "../policies/tokenScheduler.ts"
import { hybridForestPredictor } from "../policies/hybridForest.ts"
import { simulate } from "../workflows/simulate.ts"
import { traceArb } from "./helpers/arbitraries.ts"
import { exactHardware, tinyModel } from "./helpers/fixtures.ts"

const STATIC = [
  "cache=lru,prefetch=fixed:1,predictor=prev-token",
  "cache=lru,prefetch=fixed:2,predictor=transition",
  "cache=lru,prefetch=window:3,predictor=prev-token",
  "cache=plec,prefetch=path,predictor=route-path"
]

describe("the predictions a static prefetcher asks for are known before the replay", () => {
  it("forEachPrediction lists the engine's predictor queries, in order (fast-check)", () => {
    fc.assert(
      fc.property(
        traceArb.filter((t) => t.model.layers >= 2),
        fc.constantFrom(...STATIC),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 6 }),
        (trace, text, batch, extra) => {
          const spec = parsePolicySpec(text)
          const stream = buildAccessStream(trace, batch)
          let need = 1
          for (let c = 0; c < stream.steps * stream.layers; c++)
            need = Math.max(need, stream.offsets[c + 1]! - stream.offsets[c]!)
          const g = makeGeometry(stream, { slots: need + extra }, false)
          const ctx = { stream, trace, traceName: "t", top: 0, training: crossFit(stream, trace), args: [] }
          const L = trace.model.layers
          const pfCtx = { layers: L, experts: trace.model.experts, topK: trace.model.topK, slots: need + extra }
          const args = spec.prefetchArgs.map((a) => String(Math.min(Number(a), L - 1)))
          const logged = (into: number[][], p: Predictor): Predictor => ({
            ...p,
            predict(step, layer, curStep, curLayer, out) {
              into.push([step, layer, curStep, curLayer])
              return p.predict(step, layer, curStep, curLayer, out)
            }
          })
          const replayed: number[][] = []
          runTimed({
            stream,
            geometry: g,
            timing: { transferNs: 40, expertBytes: 1, expertNs: (t) => 7 * t + 3, layerNs: (t) => 5 + t },
            eviction: makeEviction(spec.cache, spec.cacheArgs, stream, g, undefined, text, true),
            future: null,
            predictor: logged(replayed, predictors[spec.predictor!]!.make(ctx)),
            prefetcher: prefetchers[spec.prefetch]!(args, pfCtx, text),
            copyEngines: 1,
            timeline: null,
            order: spec.order
          })
          const listed: number[][] = []
          const p = logged(listed, predictors[spec.predictor!]!.make(ctx))
          forEachPrediction(prefetchers[spec.prefetch]!(args, pfCtx, text)!, stream, p.predict)
          expect(listed).toEqual(replayed)
        }
      ),
      { numRuns: 200, seed: 20261202 }
    )
  })

  it("forEachAnswer: an order-free predictor, by chunks, tables built ahead, answers as in order (fast-check)", () => {
    fc.assert(
      fc.property(
        traceArb.filter((t) => t.model.layers >= 2),
        fc.constantFrom("fixed:1", "fixed:2", "window:3"),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 0, max: 40 }),
        (trace, prefetch, batch, chunk, prepared) => {
          const stream = buildAccessStream(trace, batch)
          const ctx = { stream, trace, traceName: "t", top: 0, training: crossFit(stream, trace), args: [] }
          const L = trace.model.layers
          const [name, arg] = prefetch.split(":") as [string, string]
          const pf = () =>
            prefetchers[name]!(
              [String(Math.min(Number(arg), L - 1))],
              {
                layers: L,
                experts: trace.model.experts,
                topK: trace.model.topK,
                slots: 8
              },
              prefetch
            )!
          const inOrder: number[][] = []
          const p = predictors.transition!.make(ctx)
          forEachPrediction(pf(), stream, (step, layer, curStep, curLayer, out) => {
            const n = p.predict(step, layer, curStep, curLayer, out)
            inOrder.push([step, layer, curStep, curLayer, ...out.subarray(0, n)])
            return n
          })
          const chunked: number[][] = []
          const q = predictors.transition!.make(ctx)
          expect(q.orderFree).toBe(true)
          for (let i = 0; i < prepared && q.prepare!(); i++) {}
          forEachAnswer(
            pf(),
            stream,
            q,
            (step, layer, curStep, curLayer, ids, n) => {
              chunked.push([step, layer, curStep, curLayer, ...ids.subarray(0, n)])
              q.prepare!()
            },
            chunk
          )
          expect(chunked).toEqual(inOrder)
        }
      ),
      { numRuns: 200, seed: 20261202 }
    )
  })

  it("refuses a prefetcher whose predictions depend on the replay", () => {
    const trace = generateZipfTrace({
      model: { name: "m", layers: 4, experts: 8, topK: 2 },
      tokens: 8,
      requests: 1,
      skew: 0.5,
      seed: 1
    })
    const adaptive = prefetchers.adaptive!([], { layers: 4, experts: 8, topK: 2, slots: 8 }, "prefetch=adaptive")!
    expect(() => forEachPrediction(adaptive, buildAccessStream(trace, 1), () => 0)).toThrow(/not static/)
  })
})

describe("predict ahead: the learned predictor on a second thread decides exactly as in-thread", () => {
  const zipf = (tokens: number, requests: number, seed: number) =>
    generateZipfTrace({ model: { name: "m", layers: 6, experts: 32, topK: 4 }, tokens, requests, skew: 0.8, seed })
  const trace = zipf(600, 4, 3)
  const run = (policy: string, ahead: boolean, t = trace, batch = 4) =>
    simulate({
      trace: t,
      traceName: "zipf",
      model: tinyModel(6, 32, 4),
      hardware: exactHardware(40, 10, 5),
      policy,
      mode: "timed",
      cacheSlots: 48,
      batch,
      perLayer: false,
      seed: 0,
      timeline: false,
      predictAhead: ahead
    }).record
  it.each([
    "cache=lru,prefetch=fixed:2,predictor=transition",
    "cache=lru,prefetch=window:2,predictor=transition",
    "cache=lru,prefetch=window:2,predictor=eam",
    "cache=lru,prefetch=fixed:1,predictor=hybrid-fusion",
    "cache=plec,prefetch=path,predictor=route-path",
    "cache=plec,prefetch=path,predictor=route-path,scheduler=ts",
    // Adaptive prefetch asks as the replay goes: the forest's last fold is trained ahead instead.
    "cache=two-level-lru,prefetch=adaptive,predictor=hybrid"
  ])("%s: the same record", (policy) => {
    expect(run(policy, true)).toEqual(run(policy, false))
  })

  it("EF-H's token scheduler on two threads: the same schedule, and the same record", () => {
    // 8 requests at batch 2: 600 units of 4 requests, each split in two (past MIN_UNITS, so a worker runs).
    const many = zipf(2400, 8, 5)
    const one = scheduleTokens(many, 2, "prev", "zipf"),
      two = scheduleAhead(many, 2, "prev", "zipf")
    expect(one.decisions).toBe(600)
    expect({ ...two, cpuNs: two.cpuNs.length }).toEqual({ ...one, cpuNs: one.cpuNs.length })
    const policy = "cache=plec,prefetch=path,predictor=route-path,scheduler=ts"
    expect(run(policy, true, many, 2)).toEqual(run(policy, false, many, 2))
  })

  const started: PredictAhead[] = []
  afterAll(() => {
    for (const a of started) a.close()
  })
  const start = (t: Trace, predictor: string, prefetchArgs = ["1"]) => {
    const stream = buildAccessStream(t, 2)
    const training = crossFit(stream, t)
    const a = predictAhead({
      stream,
      trace: t,
      traceName: "zipf",
      training: { description: training.description, folds: training.folds, split: training.split },
      predictor,
      predictorArgs: [],
      top: 0,
      prefetch: "fixed",
      prefetchArgs,
      prefetchContext: { layers: t.model.layers, experts: t.model.experts, topK: t.model.topK, slots: 16 },
      specText: `prefetch=fixed:1,predictor=${predictor}`
    })!
    started.push(a)
    return a
  }

  it("a bad input met while the worker builds its predictor is the same error here", () => {
    // pregate needs a lookahead column this trace lacks.
    let err: unknown
    try {
      start(trace, "pregate")
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(InputError)
    expect((err as InputError).field).toBe("columns.lookahead")
    expect(() => start(trace, "no-such-predictor")).toThrow(/make/)
  })

  it("a query other than the one the worker answered is an error, not a wrong answer", () => {
    const a = start(trace, "transition")
    const out = new Uint16Array(32)
    // The first query of fixed:1 is (0, 1) at (0, 0).
    expect(a.predictor.predict(0, 1, 0, 0, out)).toBeGreaterThanOrEqual(0)
    expect(() => a.predictor.predict(0, 3, 0, 1, out)).toThrow(/query 1 is \(0, 3\) at \(0, 1\)/)
  })

  // With token ids the worker's fold also sends its per-token tables, which the replay adopts.
  const withIds: Trace = { ...trace, tokenId: Int32Array.from({ length: trace.tokens }, (_, i) => (i * 7) % 23) }
  it.each([
    ["without token ids", trace],
    ["with token ids", withIds]
  ])("a forest fold trained on the worker is the fold trained here (%s): same steps, rows and answers", (_, trace) => {
    const stream = buildAccessStream(trace, 2)
    const training = crossFit(stream, trace)
    const data = {
      stream,
      trace,
      traceName: "zipf",
      training: { description: training.description, folds: training.folds, split: training.split },
      predictor: "hybrid",
      predictorArgs: ["trees=4", "steps=16"],
      top: 0
    }
    const ctx = { stream, trace, traceName: "zipf", top: 0, training, args: data.predictorArgs }
    const elsewhere = trainAhead(data)!
    expect(elsewhere.folds.take(0)).toBeNull()
    const there = hybridForestPredictor({ ...ctx, foldsElsewhere: elsewhere.folds })
    // A new trace object: the in-process memo of trained forests must not answer for the worker.
    const here = hybridForestPredictor({ ...ctx, trace: { ...trace } })
    expect(there.trainingRows).toEqual(here.trainingRows)
    expect(there.trainedSteps.map((f) => f.map((s) => s.step))).toEqual(
      here.trainedSteps.map((f) => f.map((s) => s.step))
    )
    const a = new Uint16Array(32),
      b = new Uint16Array(32)
    for (let step = 0; step < stream.steps; step += 7)
      for (let cur = 0; cur < 5; cur++) {
        const n = there.predict(step, cur + 1, step, cur, a)
        expect(here.predict(step, cur + 1, step, cur, b)).toBe(n)
        expect(a.subarray(0, n)).toEqual(b.subarray(0, n))
      }
  })

  it("a bad predictor option met while the worker trains is the same error here", () => {
    const stream = buildAccessStream(trace, 2)
    const training = crossFit(stream, trace)
    const elsewhere = trainAhead({
      stream,
      trace,
      traceName: "zipf",
      training: { description: training.description, folds: training.folds, split: training.split },
      predictor: "hybrid",
      predictorArgs: ["trees=many"],
      top: 0
    })!
    const ctx = { stream, trace, traceName: "zipf", top: 0, training, args: ["trees=many"] }
    const inThread = (() => {
      try {
        hybridForestPredictor(ctx)
      } catch (e) {
        return e
      }
    })()
    expect(inThread).toBeInstanceOf(UsageError)
    let there: unknown
    try {
      elsewhere.folds.take(1)
    } catch (e) {
      there = e
    }
    expect(there).toBeInstanceOf(UsageError)
    expect((there as Error).message).toBe((inThread as Error).message)
  })
})
