/**
 * The token-scheduling worker thread (scheduleAhead.ts): schedules a range of EF-H's units from
 * the trace in shared memory and posts that part of the schedule, or the error.
 */
import { workerData } from "node:worker_threads"
import { buildSteps } from "../traces/batching.ts"
import type { Trace } from "../traces/trace.ts"
import { type PathSource, scheduleUnits } from "../policies/tokenScheduler.ts"
import { answerOnce, type OneAnswerChannel } from "./workerRelay.ts"

export interface ScheduleWorkerData extends OneAnswerChannel {
  readonly trace: Trace
  readonly batch: number
  readonly source: PathSource
  /** Units [from, to) of continuous batching at 2 · batch slots. */
  readonly from: number
  readonly to: number
}

const d = workerData as ScheduleWorkerData
answerOnce(d, () => {
  const part = scheduleUnits(d.trace, d.batch, d.source, buildSteps(d.trace, 2 * d.batch), d.from, d.to)
  return { data: part, transfer: [part.offsets.buffer, part.tokens.buffer] as ArrayBuffer[] }
})
