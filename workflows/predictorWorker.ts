/**
 * The predict-ahead worker thread (predictAhead.ts): builds the run's predictor from its inputs in
 * shared memory, reports it built (or the error), then answers every query the run's prefetcher will
 * make, in the replay's order (sim/predictionOrder.ts), into the shared ring.
 */
import { type MessagePort, workerData } from "node:worker_threads"
import { predictors, prefetchers } from "../policies/registry.ts"
import { SharedBlocks, type SharedBlocksData } from "../policies/structures/sharedBlocks.ts"
import { forEachAnswer } from "../sim/predictionOrder.ts"
import { CONSUMED, FAILED, PRODUCED, READY, STATUS, predictionRing } from "./predictionRing.ts"
import { contextOf, errorMessage, type PredictorInputs } from "./workerRelay.ts"

export interface PredictorWorkerData extends PredictorInputs {
  readonly ring: SharedArrayBuffer
  readonly slots: number
  readonly port: MessagePort
  readonly prefetch: string
  readonly prefetchArgs: ReadonlyArray<string>
  readonly prefetchContext: { layers: number; experts: number; topK: number; slots: number }
  readonly specText: string
  /** Transition-table blocks shared with the replay's thread (registry: countsTransitions). */
  readonly blocks: SharedBlocksData | null
}

const d = workerData as PredictorWorkerData
const ring = predictionRing(d.slots, d.stream.experts, d.ring)
const { header, queries, counts, ids, slots: R } = ring
const E = d.stream.experts
const status = (s: number) => {
  Atomics.store(header, STATUS, s)
  Atomics.notify(header, STATUS)
  Atomics.notify(header, PRODUCED)
}
// The status starts at BUILDING: shared memory starts zeroed.
try {
  const ctx = contextOf(d)
  const predictor = predictors[d.predictor]!.make(
    d.blocks ? { ...ctx, sharedBlocks: SharedBlocks.attach(d.blocks) } : ctx
  )
  d.port.postMessage({ note: predictor.note ?? null })
  status(READY)
  const prefetcher = prefetchers[d.prefetch]!(d.prefetchArgs, d.prefetchContext, d.specText)!
  let q = 0
  forEachAnswer(prefetcher, d.stream, predictor, (step, layer, curStep, curLayer, answer, n) => {
    // A full ring: work ahead for later queries (e.g. the next fold's tables), else wait.
    for (let c = Atomics.load(header, CONSUMED); q - c >= R; c = Atomics.load(header, CONSUMED))
      if (!predictor.prepare?.()) Atomics.wait(header, CONSUMED, c, 100)
    const slot = q % R
    queries[4 * slot] = step
    queries[4 * slot + 1] = layer
    queries[4 * slot + 2] = curStep
    queries[4 * slot + 3] = curLayer
    counts[slot] = n
    ids.set(answer.subarray(0, n), slot * E)
    Atomics.store(header, PRODUCED, ++q)
    Atomics.notify(header, PRODUCED)
  })
} catch (e) {
  d.port.postMessage(errorMessage(e))
  status(FAILED)
}
