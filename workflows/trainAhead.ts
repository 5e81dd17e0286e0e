/**
 * Train ahead: the last fold of a learned predictor trained on a second thread while this one
 * trains the others (cross-fitting's folds are independent models). EF-A's forest spends most of
 * its start there: the transition tables behind its features and the forest itself. The worker
 * (foldWorker.ts) runs the predictor's own trainFold on the same inputs (shared memory), so the model is the
 * one this thread would have trained, and the predictor adopts it (registry.ts, trainFold). A predictor
 * that counts transition tables gets a store shared with the worker (`sharedBlocks`): the blocks the
 * worker counts for its fold are where the replay reads them, not copied back.
 */
import { join } from "node:path"
import { cachedBundle, packageRoot } from "../base/bundleCache.mjs"
import type { FoldsElsewhere } from "../policies/predictor.ts"
import { predictors } from "../policies/registry.ts"
import type { SharedBlocks } from "../policies/structures/sharedBlocks.ts"
import { TransitionTables } from "../policies/transition.ts"
import type { FoldWorkerData } from "./foldWorker.ts"
import { contextOf, shared, startOneAnswer } from "./workerRelay.ts"

/** Seconds to wait for the fold before giving up (a worker killed outright says nothing). */
const TRAINING_S = 3600

export interface TrainAhead {
  readonly folds: FoldsElsewhere
  /** The transition-table store the worker counts into, for this thread's predictor; null if it counts none. */
  readonly sharedBlocks: SharedBlocks | null
  /** Stop the worker, if the predictor never took its fold (e.g. a model trained earlier). */
  close(): void
}

/** Start training the last fold; null with one fold, or where no worker bundle can be built (the GPU pack). */
export function trainAhead(data: Omit<FoldWorkerData, "done" | "port" | "fold" | "blocks">): TrainAhead | null {
  const fold = data.training.folds.length - 1
  if (fold < 1) return null
  let entry: string
  try {
    entry = cachedBundle(join(packageRoot, "workflows", "foldWorker.ts"))
  } catch {
    return null
  }
  const store = predictors[data.predictor]?.countsTransitions ? TransitionTables.sharedStore(contextOf(data)) : null
  const worker = startOneAnswer(
    entry,
    { ...shared(data), fold, blocks: store?.data ?? null },
    "train-ahead",
    TRAINING_S
  )
  const take = (f: number): unknown => (f === fold ? worker.take() : null)
  const close = worker.close
  return { folds: { take }, sharedBlocks: store, close }
}
