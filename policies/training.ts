/**
 * Where learned predictors get their data. Never from the steps they are scored on:
 * - a separate training trace (`--train FILE`): one model, used for every step;
 * - otherwise 2-fold cross-fitting over the replayed trace: steps are cut into two halves, the
 *   model that predicts the first half is trained on the second half only, and vice versa.
 */
import type { AccessStream } from "../traces/batching.ts"

import type { Trace } from "../traces/trace.ts"

/** Steps [from, to) of a stream (and the trace its tokens index into). */
export interface TrainingSlice {
  readonly stream: AccessStream
  readonly trace: Trace
  readonly from: number
  readonly to: number
}

export interface Training {
  readonly description: string
  /** Training slices of each fold's model. */
  readonly folds: ReadonlyArray<ReadonlyArray<TrainingSlice>>
  /** The first step the second fold's model predicts (cross-fitting); null with one fold. */
  readonly split: number | null
  /** Which fold's model predicts step s of the replayed stream. */
  foldOf(step: number): number
}

/** Training steps in a fold's slices. */
export function foldSteps(slices: ReadonlyArray<TrainingSlice>): number {
  let n = 0
  for (const { from, to } of slices) n += to - from
  return n
}

/** A Training from its data (a copy of one made here, e.g. sent to another thread). */
export function trainingOf(t: Omit<Training, "foldOf">): Training {
  const split = t.split
  return { ...t, foldOf: split === null ? () => 0 : (s) => (s < split ? 0 : 1) }
}

export function crossFit(a: AccessStream, trace: Trace, half = Math.floor(a.steps / 2)): Training {
  return trainingOf({
    description:
      `2-fold cross-fitting: steps [0,${half}) predicted by a model trained on steps ` +
      `[${half},${a.steps}) and vice versa`,
    folds: [[{ stream: a, trace, from: half, to: a.steps }], [{ stream: a, trace, from: 0, to: half }]],
    split: half
  })
}

export function separateTrace(train: AccessStream, trace: Trace, name: string): Training {
  return trainingOf({
    description: `trained on ${name} (${train.steps} steps), a separate trace`,
    folds: [[{ stream: train, trace, from: 0, to: train.steps }]],
    split: null
  })
}

/** Trace token indices of a slice's steps. */
export function sliceTokens(s: TrainingSlice): Int32Array {
  return s.stream.stepTokens.subarray(s.stream.stepTokenOffsets[s.from]!, s.stream.stepTokenOffsets[s.to]!)
}
