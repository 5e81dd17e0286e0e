/**
 * Predict ahead: a learned predictor's answers computed on a second thread while the replay runs.
 * The transition tables' row sums, an EAM's matches, a forest's features: up to half of a run's
 * time, and none of it depends on the engine, for a prefetcher whose predictions are static
 * (policies/prefetcher.ts). The worker (predictorWorker.ts) builds the same predictor from a copy
 * of the inputs and answers the same queries in the same order, so decisions are identical; the
 * replay checks every query against the worker's before it takes the answer. For a predictor that
 * counts transition tables, the replay's thread counts blocks the worker will want whenever it
 * would otherwise wait for an answer (policies/structures/sharedBlocks.ts): at the start, when the
 * worker needs a whole step's blocks before its first answer, and at each new fold.
 */
import { join } from "node:path"
import { MessageChannel, receiveMessageOnPort, Worker } from "node:worker_threads"
import { cachedBundle, packageRoot } from "../base/bundleCache.mjs"
import type { Predictor } from "../policies/predictor.ts"
import { predictors } from "../policies/registry.ts"
import type { SharedBlocksData } from "../policies/structures/sharedBlocks.ts"
import { TransitionTables } from "../policies/transition.ts"
import type { PredictorWorkerData } from "./predictorWorker.ts"
import { BUILDING, CONSUMED, FAILED, PRODUCED, STATUS, predictionRing } from "./predictionRing.ts"
import { contextOf, type ErrorMessage, errorFrom, shared } from "./workerRelay.ts"

/**
 * Ring entries: a few of the worker's chunks (sim/predictionOrder.ts forEachAnswer: 64 steps' queries,
 * 64 · L for a fixed step), so it answers one while the replay reads the last.
 */
const SLOTS = 16384
/**
 * Seconds the replay waits for the worker to build its predictor (a forest over a long trace may
 * take minutes), and then for any one answer, before it gives up: a worker killed outright (out
 * of memory) says nothing, and waiting on it forever would be a silent failure.
 */
const BUILDING_S = 3600,
  STALLED_S = 300

export interface PredictAhead {
  readonly predictor: Predictor
  /** Stop the worker (it may still be predicting past the replay's end). */
  close(): void
}

/**
 * Start the worker and wait until its predictor is built (so a bad input fails here, as building
 * it in this thread would); null where no worker bundle can be built (the GPU pack).
 */
export function predictAhead(
  data: Omit<PredictorWorkerData, "ring" | "slots" | "port" | "blocks">
): PredictAhead | null {
  let entry: string
  try {
    entry = cachedBundle(join(packageRoot, "workflows", "predictorWorker.ts"))
  } catch {
    return null
  }
  const E = data.stream.experts
  const ring = predictionRing(SLOTS, E)
  const { header, queries, counts, ids } = ring
  // Transition tables: this thread counts blocks the worker will want while it waits for answers.
  let helper: TransitionTables | null = null,
    blocks: SharedBlocksData | null = null
  if (predictors[data.predictor]?.countsTransitions) {
    const ctx = contextOf(data)
    const store = TransitionTables.sharedStore(ctx)
    helper = new TransitionTables({ ...ctx, sharedBlocks: store })
    blocks = store.data
  }
  const { port1, port2 } = new MessageChannel()
  const worker = new Worker(entry, {
    workerData: { ...shared(data), ring: ring.buffer, slots: SLOTS, port: port2, blocks },
    transferList: [port2]
  })
  const close = () => {
    port1.close()
    void worker.terminate()
  }
  /** The worker's error, rethrown here with its kind. */
  const failure = (): Error => {
    const m = receiveMessageOnPort(port1)?.message as ErrorMessage | undefined
    close()
    return errorFrom(m, "predict-ahead worker")
  }
  for (let s = Atomics.load(header, STATUS), waited = 0; s === BUILDING; s = Atomics.load(header, STATUS)) {
    if (waited++ >= BUILDING_S) {
      close()
      throw new Error(
        `predict-ahead: the worker built no predictor in ${BUILDING_S} s (rerun with --predict-ahead off)`
      )
    }
    Atomics.wait(header, STATUS, s, 1000)
  }
  if (Atomics.load(header, STATUS) === FAILED) throw failure()
  const built = receiveMessageOnPort(port1)?.message as { note: string | null }
  let q = 0
  const predictor: Predictor = {
    name: data.predictor,
    ...(built.note !== null ? { note: built.note } : {}),
    predict(step, layer, curStep, curLayer, out) {
      for (let p = Atomics.load(header, PRODUCED), waited = 0; p <= q; p = Atomics.load(header, PRODUCED)) {
        if (Atomics.load(header, STATUS) === FAILED) throw failure()
        if (helper?.help()) continue
        if (waited++ >= STALLED_S) {
          close()
          throw new Error(`predict-ahead: no answer from the worker in ${STALLED_S} s (rerun with --predict-ahead off)`)
        }
        Atomics.wait(header, PRODUCED, p, 1000)
      }
      const slot = q % SLOTS
      const at = 4 * slot
      if (
        queries[at] !== step ||
        queries[at + 1] !== layer ||
        queries[at + 2] !== curStep ||
        queries[at + 3] !== curLayer
      )
        throw new Error(
          `predict-ahead: query ${q} is (${step}, ${layer}) at (${curStep}, ${curLayer}), the worker answered ` +
            `(${queries[at]}, ${queries[at + 1]}) at (${queries[at + 2]}, ${queries[at + 3]})`
        )
      const n = counts[slot]!
      out.set(ids.subarray(slot * E, slot * E + n))
      Atomics.store(header, CONSUMED, ++q)
      // The worker waits only on a full ring: wake it as a quarter frees up.
      if (q % (SLOTS / 4) === 0) Atomics.notify(header, CONSUMED)
      return n
    }
  }
  return { predictor, close }
}
