/**
 * Running a sweep: cells go to worker threads, each result line is appended to the results file
 * the moment its cell finishes (one write per line), and when the sweep completes the file is
 * rewritten in cell order (temp file + rename). So the finished file has the same bytes for any
 * worker count, and a sweep killed at any moment (kill -9 included) loses only the cells in
 * flight: a rerun reads the lines there (in any order), cuts a torn last line, and runs the rest.
 * Cells are dealt to workers by policy (a worker JITs fewer policies; idle workers steal), which
 * matters because a sweep's cells are short. `shard` runs a deterministic slice (cells with
 * index ≡ I mod N); `mergeResults` puts shard files back into exactly the one-machine file.
 */
import { TOOL_VERSION } from "../base/version.ts"
import { closeSync, existsSync, ftruncateSync, openSync, readFileSync, writeSync } from "node:fs"
import { readInput } from "../base/readInput.ts"
import { availableParallelism } from "node:os"
import type { Worker } from "node:worker_threads"
import cliProgress from "cli-progress"
import { InputError, UsageError } from "../base/errors.ts"
import { checkCell } from "./runCell.ts"
import { writeFileAtomic } from "../base/atomicWrite.mjs"
import { type Cell, SweepFileError, type SweepPlan } from "./sweepFile.ts"
import { workerEntry } from "./workerBundle.ts"
import { spawnWorkers } from "./workerPool.ts"

export interface SweepOptions {
  readonly out: string
  readonly workers?: number
  readonly shard?: { index: number; count: number }
  /** Called after each written cell (tests use it to kill mid-run). */
  readonly onWritten?: (done: number, total: number) => void
}

export const shardCells = (cells: ReadonlyArray<Cell>, shard?: { index: number; count: number }): Cell[] =>
  cells.filter((c) => !shard || c.index % shard.count === shard.index)

/** Result lines already in a results file for this sweep (any order); a torn last line is cut off. */
function resume(out: string, cells: Cell[]): Map<string, string> {
  const done = new Map<string, string>()
  if (!existsSync(out)) return done
  const buf = readFileSync(out)
  const end = buf.lastIndexOf(0x0a) + 1
  const ids = new Set(cells.map((c) => c.id))
  buf
    .subarray(0, end)
    .toString("utf8")
    .split("\n")
    .slice(0, -1)
    .forEach((line, i) => {
      let id: string | undefined, version: string | undefined
      try {
        ;({ cell_id: id, version } = JSON.parse(line) as { cell_id?: string; version?: string })
      } catch {
        throw new InputError(out, `line ${i + 1}`, "(json)", "corrupt results line")
      }
      if (version !== TOOL_VERSION)
        throw new InputError(
          out,
          `line ${i + 1}`,
          "version",
          `written by ExpertFlow ${version}, this is ${TOOL_VERSION}: results are not reused across versions ` +
            `(move the file away to run the sweep again)`
        )
      if (id === undefined || !ids.has(id))
        throw new InputError(
          out,
          `line ${i + 1}`,
          "cell_id",
          `cell ${id} is not in this sweep${cells.length ? "" : " (or shard)"}: this results file belongs to ` +
            `another sweep or shard`
        )
      const prev = done.get(id)
      if (prev !== undefined && prev !== line)
        throw new InputError(out, `line ${i + 1}`, "cell_id", `cell ${id} appears twice with different results`)
      done.set(id, line)
    })
  if (end < buf.length) {
    const fd = openSync(out, "r+")
    ftruncateSync(fd, end)
    closeSync(fd)
  }
  return done
}

/** Rewrite the results file in cell order once every cell is there. */
function finalize(out: string, cells: Cell[], done: Map<string, string>): void {
  writeFileAtomic(out, cells.map((c) => `${done.get(c.id)!}\n`).join(""))
}

export async function runSweep(plan: SweepPlan, opts: SweepOptions): Promise<{ ran: number; skipped: number }> {
  const cells = shardCells(plan.cells, opts.shard)
  const done = resume(opts.out, cells)
  const skipped = done.size
  const todo = cells.filter((c) => !done.has(c.id))
  if (todo.length === 0) {
    finalize(opts.out, cells, done)
    return { ran: 0, skipped }
  }
  const workers = Math.max(1, Math.min(opts.workers ?? availableParallelism(), todo.length))
  // Deal cells to workers by policy; each worker takes from its own queue, then steals.
  const policies = [...new Set(todo.map((c) => c.policy))]
  const queues: Cell[][] = Array.from({ length: workers }, () => [])
  for (const c of todo) queues[policies.indexOf(c.policy) % workers]!.push(c)
  const next = (w: number): Cell | undefined => {
    if (queues[w]!.length > 0) return queues[w]!.shift()
    const donor = queues.reduce((best, q, i) => (q.length > queues[best]!.length ? i : best), 0)
    return queues[donor]!.pop()
  }
  // Workers start (and warm up) while this thread checks every cell; nothing is written, and the
  // workers are stopped, if one cannot run.
  const entry = workerEntry()
  const warmUp = (q: Cell[]) => {
    // Each worker warms up on the first cell of each policy it was dealt (see sweepWorker.ts).
    const seen = new Set<string>()
    return q.filter((c) => !seen.has(c.policy) && seen.add(c.policy)).map((c) => c.index)
  }
  const pool: Worker[] = spawnWorkers(
    entry,
    queues.map((q) => ({ file: plan.file, warmUp: warmUp(q) }))
  )
  let fd: number
  try {
    checkBeforeRunning(plan, todo)
    fd = openSync(opts.out, "a")
  } catch (e) {
    // Workers keep the process alive: stop them before the failure is reported.
    await Promise.all(pool.map((w) => w.terminate()))
    throw e
  }
  const bar = process.stderr.isTTY
    ? new cliProgress.SingleBar(
        {
          format: `${plan.name} {bar} {value}/{total} cells | {rate} cells/s | ETA {eta_formatted}`,
          hideCursor: true,
          stream: process.stderr
        },
        cliProgress.Presets.shades_classic
      )
    : null
  bar?.start(cells.length, skipped, { rate: "0.0" })
  const started = performance.now()
  let written = 0
  try {
    await new Promise<void>((resolveAll, rejectAll) => {
      const send = (w: Worker, i: number) => {
        const c = next(i)
        if (c) w.postMessage(c.index)
      }
      pool.forEach((w, i) => {
        w.on("error", rejectAll)
        w.on("message", (m: { index: number; line?: string; error?: string; kind?: string }) => {
          if (m.error !== undefined) {
            const where = `cell ${m.index} (${plan.cells[m.index]!.policy})`
            rejectAll(
              m.kind === "input"
                ? new InputError(plan.file, where, "(run)", m.error)
                : m.kind === "usage"
                  ? new UsageError(`${where}: ${m.error}`)
                  : new Error(`${where}: ${m.error}`)
            )
            return
          }
          writeSync(fd, `${m.line!}\n`) // one write per line; a killed process's writes are in the page cache
          done.set(plan.cells[m.index]!.id, m.line!)
          written++
          bar?.update(skipped + written, { rate: (written / ((performance.now() - started) / 1000)).toFixed(1) })
          opts.onWritten?.(skipped + written, cells.length)
          if (written === todo.length) resolveAll()
          else send(w, i)
        })
        send(w, i)
      })
    })
  } finally {
    bar?.stop()
    closeSync(fd)
    await Promise.all(pool.map((w) => w.terminate()))
  }
  finalize(opts.out, cells, done)
  return { ran: written, skipped }
}

/**
 * Every cell that would fail (unreadable trace, model mismatch, impossible cache size, a spec the
 * mode cannot run) is found before the first runs, all reported at once, and the results file is
 * never created: a sweep that cannot run leaves nothing behind.
 */
function checkBeforeRunning(plan: SweepPlan, todo: Cell[]): void {
  const problems: string[] = []
  const seen = new Set<string>()
  for (const c of todo) {
    try {
      checkCell(c)
    } catch (e) {
      if (!(e instanceof InputError || e instanceof UsageError)) throw e
      const cell = `${c.trace.id} · ${c.policyLabel} · ${c.cacheLabel} · batch ${c.batch}`
      // One line per distinct cause: 40 cells of one broken trace say it once.
      if (!seen.has(e.message)) problems.push(`cells[${c.index}] (${cell}): ${e.message}`)
      seen.add(e.message)
    }
  }
  if (problems.length > 0) throw new SweepFileError(plan.file, problems)
}

/** Combine shard results into the file one machine would have written for `plan`. */
export function mergeResults(plan: SweepPlan, inputs: string[], out: string): number {
  const byId = new Map<string, string>()
  for (const file of inputs) {
    readInput(file, "utf8")
      .split("\n")
      .forEach((line, i) => {
        if (line.trim() === "") return
        let rec: { cell_id?: string }
        try {
          rec = JSON.parse(line)
        } catch {
          throw new InputError(file, `line ${i + 1}`, "(json)", "corrupt results line")
        }
        const prev = byId.get(rec.cell_id ?? "")
        if (prev !== undefined && prev !== line)
          throw new InputError(
            file,
            `line ${i + 1}`,
            "cell_id",
            `cell ${rec.cell_id} appears twice with different results`
          )
        byId.set(rec.cell_id ?? "", line)
      })
  }
  const missing = plan.cells.filter((c) => !byId.has(c.id))
  if (missing.length > 0)
    throw new InputError(
      inputs.join(", "),
      "results",
      "cell_id",
      `${missing.length} cell(s) missing, e.g. cell ${missing[0]!.index} (${missing[0]!.policy}); run the ` +
        `remaining shards`
    )
  writeFileAtomic(out, plan.cells.map((c) => `${byId.get(c.id)!}\n`).join(""))
  return plan.cells.length
}
