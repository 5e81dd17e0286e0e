/**
 * The fold-training worker thread (trainAhead.ts): trains one fold of the run's learned predictor
 * from its inputs in shared memory (the registry's trainFold) and posts the model, its tables moved
 * rather than copied, or the error; then flags that it is done.
 */
import { workerData } from "node:worker_threads"
import { predictors } from "../policies/registry.ts"
import { SharedBlocks, type SharedBlocksData } from "../policies/structures/sharedBlocks.ts"
import { answerOnce, contextOf, type OneAnswerChannel, type PredictorInputs } from "./workerRelay.ts"

export interface FoldWorkerData extends PredictorInputs, OneAnswerChannel {
  readonly fold: number
  /** Transition-table blocks shared with the replay's thread (trainAhead.ts). */
  readonly blocks: SharedBlocksData | null
}

const d = workerData as FoldWorkerData
answerOnce(d, () => {
  const ctx = contextOf(d)
  const sharedBlocks = d.blocks ? { sharedBlocks: SharedBlocks.attach(d.blocks) } : {}
  return predictors[d.predictor]!.trainFold!({ ...ctx, ...sharedBlocks }, d.fold)
})
