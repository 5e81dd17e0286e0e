/** A sweep worker thread: runs the cells it is sent, one at a time, and posts each result line. */
import { parentPort, workerData } from "node:worker_threads"
import { planSweep } from "./sweepFile.ts"
import { runCell } from "./runCell.ts"

const plan = planSweep(workerData.file as string)
parentPort!.on("message", (index: number) => {
  try {
    parentPort!.postMessage({ index, line: JSON.stringify(runCell(plan.name, plan.cells[index]!)) })
  } catch (e) {
    parentPort!.postMessage({ index, error: (e as Error).message })
  }
})
