/**
 * Starting sweep workers. V8 normally optimizes hot code on a background thread while the worker
 * goes on running unoptimized code: a gain when a core is spare. When the workers already fill
 * every core, that thread takes its core from a worker, and the worker runs slow code for longer
 * while it waits (sweep cells are milliseconds, so this warm-up is a large share of a sweep). So
 * when workers ≥ cores they are created with concurrent recompilation off: each optimizes on its
 * own thread and runs the fast code at once. V8 reads the flag when an isolate is created; it is
 * switched off only until the workers are online, then restored.
 */
import { availableParallelism } from "node:os"
import { setFlagsFromString } from "node:v8"
import { Worker } from "node:worker_threads"

export function spawnWorkers(entry: string, workerData: ReadonlyArray<unknown>): Worker[] {
  const oversubscribed = workerData.length >= availableParallelism()
  if (oversubscribed) setFlagsFromString("--no-concurrent-recompilation")
  let starting = workerData.length
  const started = () => {
    if (--starting === 0 && oversubscribed) setFlagsFromString("--concurrent-recompilation")
  }
  return workerData.map((data) => {
    const w = new Worker(entry, { workerData: data })
    let counted = false
    const once = () => {
      if (!counted) {
        counted = true
        started()
      }
    }
    w.once("online", once)
    w.once("exit", once)
    return w
  })
}
