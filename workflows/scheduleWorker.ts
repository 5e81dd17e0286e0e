/**
 * The token-scheduling worker thread (scheduleAhead.ts): schedules a range of EF-H's units from
 * the trace in shared memory and posts that part of the schedule, or the error.
 */
import { workerData } from "node:worker_threads"
import type { Trace } from "../traces/trace.ts"
import { type PathSource, scheduleUnits } from "../policies/tokenScheduler.ts"
import { answerOnce, type OneAnswerChannel } from "./workerRelay.ts"

export interface ScheduleWorkerData extends OneAnswerChannel {
  readonly trace: Trace
  readonly batch: number
  readonly source: PathSource
  /** Continuous batching at 2 · batch slots (as the replay's thread built it); this worker's are [from, to). */
  readonly units: { offsets: Int32Array; tokens: Int32Array }
  readonly from: number
  readonly to: number
}

const d = workerData as ScheduleWorkerData
answerOnce(d, () => {
  const part = scheduleUnits(d.trace, d.batch, d.source, d.units, d.from, d.to)
  return { data: part, transfer: [part.offsets.buffer, part.tokens.buffer] as ArrayBuffer[] }
})
