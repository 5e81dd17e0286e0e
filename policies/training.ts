/**
 * Where learned predictors get their data. Never from the steps they are scored on:
 * - a separate training trace (`--train FILE`): one model, used for every step;
 * - otherwise 2-fold cross-fitting over the replayed trace: steps are cut into two halves, the
 *   model that predicts the first half is trained on the second half only, and vice versa.
 */
import type { AccessStream } from "../traces/batching.ts"

export interface TrainingSlice { readonly stream: AccessStream; readonly from: number; readonly to: number }

export interface Training {
  readonly description: string
  /** Training slices of each fold's model. */
  readonly folds: ReadonlyArray<ReadonlyArray<TrainingSlice>>
  /** Which fold's model predicts step s of the replayed stream. */
  foldOf(step: number): number
}

export function crossFit(a: AccessStream): Training {
  const half = Math.floor(a.steps / 2)
  return {
    description: `2-fold cross-fitting: steps [0,${half}) predicted by a model trained on steps [${half},${a.steps}) and vice versa`,
    folds: [[{ stream: a, from: half, to: a.steps }], [{ stream: a, from: 0, to: half }]],
    foldOf: (s) => (s < half ? 0 : 1)
  }
}

export function separateTrace(train: AccessStream, name: string): Training {
  return {
    description: `trained on ${name} (${train.steps} steps), a separate trace`,
    folds: [[{ stream: train, from: 0, to: train.steps }]],
    foldOf: () => 0
  }
}
