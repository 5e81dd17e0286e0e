/**
 * Running a sweep: cells go to worker threads; result lines are appended to the results file in
 * cell order (a finished cell waits for the earlier ones), so the file is always a prefix of the
 * complete, ordered result — the same bytes for any worker count. Rerunning skips that prefix;
 * a sweep killed at any moment (kill -9 included) loses only cells not yet written, and a torn
 * last line is cut off on resume. `shard` runs a deterministic slice (cells with index ≡ I mod N);
 * `mergeResults` puts shard files back into exactly the one-machine file.
 */
import { closeSync, existsSync, fsyncSync, ftruncateSync, openSync, readFileSync, rmSync, writeSync } from "node:fs"
import { availableParallelism } from "node:os"
import { Worker } from "node:worker_threads"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import cliProgress from "cli-progress"
import { InputError } from "./errors.ts"
import { writeFileAtomic } from "./atomicWrite.ts"
import type { Cell, SweepPlan } from "./sweepFile.ts"

export interface SweepOptions {
  readonly out: string
  readonly workers?: number
  readonly shard?: { index: number; count: number }
  /** Called after each written cell (tests use it to kill mid-run). */
  readonly onWritten?: (done: number, total: number) => void
}

export const shardCells = (cells: ReadonlyArray<Cell>, shard?: { index: number; count: number }): Cell[] =>
  cells.filter((c) => !shard || c.index % shard.count === shard.index)

/** Cells already in a results file for this sweep; a torn last line (no newline yet) is cut off. */
function resume(out: string, cells: Cell[]): number {
  if (!existsSync(out)) return 0
  const buf = readFileSync(out)
  const end = buf.lastIndexOf(0x0a) + 1
  const lines = buf.subarray(0, end).toString("utf8").split("\n").slice(0, -1)
  lines.forEach((line, i) => {
    let id: string | undefined
    try { id = (JSON.parse(line) as { cell_id?: string }).cell_id } catch { throw new InputError(out, `line ${i + 1}`, "(json)", "corrupt results line") }
    if (id !== cells[i]?.id) throw new InputError(out, `line ${i + 1}`, "cell_id", `expected cell ${cells[i]?.id ?? "(none: more lines than cells)"}: this results file belongs to another sweep or shard`)
  })
  if (end < buf.length) {
    const fd = openSync(out, "r+")
    ftruncateSync(fd, end)
    closeSync(fd)
  }
  return lines.length
}

/**
 * The worker's entry file. From TypeScript sources, the worker is bundled once per sweep with
 * esbuild (~0.2 s): a worker thread then loads one JavaScript file instead of transpiling every
 * module itself, which would cost each worker about a second before its first cell.
 */
async function workerEntry(): Promise<string> {
  const source = fileURLToPath(new URL("./sweepWorker.ts", import.meta.url))
  const out = join(tmpdir(), `expertflow-sweep-worker-${process.pid}.mjs`)
  try {
    const { buildSync } = await import("esbuild") // absent from the GPU pack: sweeps fall back below
    buildSync({ entryPoints: [source], bundle: true, platform: "node", format: "esm", target: "node20", outfile: out, logLevel: "silent", external: ["koffi"] })
    return out
  } catch {
    return fileURLToPath(new URL("./sweepWorker.mjs", import.meta.url)) // tsx in the worker: slower start, same results
  }
}

export async function runSweep(plan: SweepPlan, opts: SweepOptions): Promise<{ ran: number; skipped: number }> {
  const cells = shardCells(plan.cells, opts.shard)
  const skipped = resume(opts.out, cells)
  const todo = cells.slice(skipped)
  if (todo.length === 0) return { ran: 0, skipped }
  const fd = openSync(opts.out, "a")
  const workers = Math.max(1, Math.min(opts.workers ?? availableParallelism(), todo.length))
  const bar = process.stderr.isTTY
    ? new cliProgress.SingleBar({ format: `${plan.name} {bar} {value}/{total} cells | {rate} cells/s | ETA {eta_formatted}`, hideCursor: true, stream: process.stderr }, cliProgress.Presets.shades_classic)
    : null
  bar?.start(cells.length, skipped, { rate: "0.0" })
  const started = performance.now()
  const pending = new Map<number, string>()
  let nextToWrite = 0, nextToSend = 0, written = 0
  const pool: Worker[] = []
  const entry = await workerEntry()
  try {
    await new Promise<void>((resolveAll, rejectAll) => {
      const send = (w: Worker) => {
        if (nextToSend < todo.length) w.postMessage(todo[nextToSend++]!.index)
      }
      for (let i = 0; i < workers; i++) {
        const w = new Worker(entry, { workerData: { file: plan.file } })
        pool.push(w)
        w.on("error", rejectAll)
        w.on("message", (m: { index: number; line?: string; error?: string }) => {
          if (m.error !== undefined) { rejectAll(new Error(`cell ${m.index} (${plan.cells[m.index]!.policy}): ${m.error}`)); return }
          pending.set(m.index, m.line!)
          // Write every finished cell whose predecessors are written, in order.
          while (nextToWrite < todo.length && pending.has(todo[nextToWrite]!.index)) {
            const idx = todo[nextToWrite]!.index
            // One write per line; no fsync per line: a killed process's writes are in the page
            // cache already (fsync guards against power loss, done once at the end).
            writeSync(fd, pending.get(idx)! + "\n")
            pending.delete(idx)
            nextToWrite++
            written++
            bar?.update(skipped + written, { rate: (written / ((performance.now() - started) / 1000)).toFixed(1) })
            opts.onWritten?.(skipped + written, cells.length)
          }
          if (nextToWrite === todo.length) resolveAll()
          else send(w)
        })
        send(w)
      }
    })
  } finally {
    bar?.stop()
    fsyncSync(fd)
    closeSync(fd)
    await Promise.all(pool.map((w) => w.terminate()))
    if (entry.startsWith(tmpdir())) rmSync(entry, { force: true })
  }
  return { ran: written, skipped }
}

/** Combine shard results into the file one machine would have written for `plan`. */
export function mergeResults(plan: SweepPlan, inputs: string[], out: string): number {
  const byId = new Map<string, string>()
  for (const file of inputs) {
    readFileSync(file, "utf8").split("\n").forEach((line, i) => {
      if (line.trim() === "") return
      let rec: { cell_id?: string }
      try { rec = JSON.parse(line) } catch { throw new InputError(file, `line ${i + 1}`, "(json)", "corrupt results line") }
      const prev = byId.get(rec.cell_id ?? "")
      if (prev !== undefined && prev !== line) throw new InputError(file, `line ${i + 1}`, "cell_id", `cell ${rec.cell_id} appears twice with different results`)
      byId.set(rec.cell_id ?? "", line)
    })
  }
  const missing = plan.cells.filter((c) => !byId.has(c.id))
  if (missing.length > 0) throw new InputError(inputs.join(", "), "results", "cell_id", `${missing.length} cell(s) missing, e.g. cell ${missing[0]!.index} (${missing[0]!.policy}); run the remaining shards`)
  writeFileAtomic(out, plan.cells.map((c) => byId.get(c.id)! + "\n").join(""))
  return plan.cells.length
}
