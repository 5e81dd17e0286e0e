/**
 * A sweep worker thread: runs the cells it is sent, one at a time, and posts each result line.
 * Before the first cell it warms up: each policy it was dealt runs once on the trace's first few
 * steps (results discarded). A cell is only milliseconds, so without this V8 optimizes the replay
 * loop for the first policies, throws that code away when the next one brings new classes, and
 * recompiles: over the 200-cell bench sweep in one worker, 26 compilations of the loop without the
 * warm-up, 13 with it.
 */
import { parentPort, workerData } from "node:worker_threads"
import { planSweep } from "./sweepFile.ts"
import { runCell, runCellAsync } from "./runCell.ts"
import { onnxModelOf } from "./runOnnxPredictor.ts"
import { InputError, UsageError } from "../base/errors.ts"

const WARM_UP_STEPS = 8

const plan = planSweep(workerData.file as string)
for (const index of workerData.warmUp as number[]) {
  const cell = plan.cells[index]!
  try {
    if (onnxModelOf(cell.policy) === null) runCell(plan.name, cell, WARM_UP_STEPS * cell.batch)
  } catch {
    /* the real run reports it */
  }
}
parentPort!.on("message", async (index: number) => {
  try {
    parentPort!.postMessage({ index, line: JSON.stringify(await runCellAsync(plan.name, plan.cells[index]!)) })
  } catch (e) {
    const kind = e instanceof InputError ? "input" : e instanceof UsageError ? "usage" : "internal"
    parentPort!.postMessage({ index, error: (e as Error).message, kind })
  }
})
