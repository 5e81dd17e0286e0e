/**
 * EF-H's token scheduler on two threads: its units are independent, so a worker schedules the
 * second half of them while this thread schedules the first, and the parts join into the same
 * schedule (the measured CPU time of each decision is its own thread's).
 */
import { join } from "node:path"
import { cachedBundle, packageRoot } from "../base/bundleCache.mjs"
import { buildSteps } from "../traces/batching.ts"
import type { Trace } from "../traces/trace.ts"
import {
  checkPathSource,
  joinSchedules,
  type PathSource,
  type Schedule,
  scheduleUnits
} from "../policies/tokenScheduler.ts"
import type { ScheduleWorkerData } from "./scheduleWorker.ts"
import { shared, startOneAnswer } from "./workerRelay.ts"

/** Fewer units than this are scheduled here alone: a worker's start would cost more than it saves. */
const MIN_UNITS = 256
/** Seconds to wait for the worker's part. */
const SCHEDULING_S = 3600

export function scheduleAhead(t: Trace, batch: number, source: PathSource, traceName: string): Schedule {
  checkPathSource(t, source, traceName)
  const units = buildSteps(t, 2 * batch)
  const n = units.offsets.length - 1
  let entry: string | null = null
  if (n >= MIN_UNITS)
    try {
      entry = cachedBundle(join(packageRoot, "workflows", "scheduleWorker.ts"))
    } catch {
      entry = null // no worker bundle (the GPU pack): all here
    }
  if (entry === null) return scheduleUnits(t, batch, source, units, 0, n)
  const half = n >> 1
  const data: Omit<ScheduleWorkerData, "done" | "port"> = {
    trace: shared(t),
    batch,
    source,
    units: shared(units),
    from: half,
    to: n
  }
  const worker = startOneAnswer(entry, data, "token scheduler", SCHEDULING_S)
  try {
    const first = scheduleUnits(t, batch, source, units, 0, half)
    return joinSchedules([first, worker.take() as Schedule])
  } finally {
    worker.close()
  }
}
