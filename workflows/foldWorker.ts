/**
 * The fold-training worker thread (trainAhead.ts): trains one fold of the run's learned predictor
 * from its inputs in shared memory (the registry's trainFold) and posts the model, its tables moved
 * rather than copied, or the error; then flags that it is done.
 */
import { type MessagePort, workerData } from "node:worker_threads"
import { predictors } from "../policies/registry.ts"
import { SharedBlocks, type SharedBlocksData } from "../policies/structures/sharedBlocks.ts"
import { contextOf, errorMessage, type PredictorInputs } from "./workerRelay.ts"

export interface FoldWorkerData extends PredictorInputs {
  /** One Int32: 1 once the answer is posted. */
  readonly done: SharedArrayBuffer
  readonly port: MessagePort
  readonly fold: number
  /** Transition-table blocks shared with the replay's thread (trainAhead.ts). */
  readonly blocks: SharedBlocksData | null
}

const d = workerData as FoldWorkerData
try {
  const ctx = contextOf(d)
  const sharedBlocks = d.blocks ? { sharedBlocks: SharedBlocks.attach(d.blocks) } : {}
  const { data, transfer } = predictors[d.predictor]!.trainFold!({ ...ctx, ...sharedBlocks }, d.fold)
  d.port.postMessage({ data }, transfer)
} catch (e) {
  d.port.postMessage(errorMessage(e))
}
const done = new Int32Array(d.done)
Atomics.store(done, 0, 1)
Atomics.notify(done, 0)
