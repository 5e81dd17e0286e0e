import { Argument, Command, Flag } from "effect/cli"
import { UsageError } from "../base/errors.ts"
import { mergeResults, runSweep } from "../workflows/sweep.ts"
import { planSweep } from "../workflows/sweepFile.ts"
import { action, opt } from "./action.ts"
import { defaulted } from "./flags.ts"

const parseShard = (text: string): { index: number; count: number } => {
  const m = /^(\d+)\/(\d+)$/.exec(text)
  const index = m ? Number(m[1]) : NaN,
    count = m ? Number(m[2]) : NaN
  if (!m || count < 1 || index >= count)
    throw new UsageError(`--shard wants I/N with 0 ≤ I < N (e.g. 0/4), got '${text}'`)
  return { index, count }
}

export const sweepCommand = Command.make(
  "sweep",
  {
    file: Argument.String("sweep-file").pipe(Argument.withDescription("the sweep file (JSON; see README)")),
    workers: Flag.optional(Flag.Int("workers")).pipe(
      Flag.withDescription("worker threads (default: the number of cores)")
    ),
    out: Flag.String("out").pipe(defaulted("results.jsonl", "results file, one JSON line per cell; rerun to resume")),
    shard: Flag.optional(Flag.String("shard")).pipe(
      Flag.withDescription("run slice I of N, the cells with index ≡ I mod N (default: every cell)")
    )
  },
  (f) =>
    action(async () => {
      const plan = planSweep(f.file)
      const shardText = opt(f.shard)
      const shard = shardText ? parseShard(shardText) : undefined
      const workers = opt(f.workers)
      if (workers !== undefined && workers < 1) throw new UsageError("--workers must be ≥ 1")
      const started = performance.now(),
        cpu = process.cpuUsage()
      const { ran, skipped } = await runSweep(plan, {
        out: f.out,
        ...(workers ? { workers } : {}),
        ...(shard ? { shard } : {})
      })
      const { user, system } = process.cpuUsage(cpu) // every thread of the process: the workers and V8's own
      process.stderr.write(
        `${plan.name}: ${ran} cells run, ${skipped} already done, in ` +
          `${((performance.now() - started) / 1000).toFixed(2)} s, ${((user + system) / 1e6).toFixed(2)} CPU-s → ` +
          `${f.out}\n`
      )
    })
).pipe(
  Command.withDescription("run a sweep file's cells in parallel, appending result lines (resumable)"),
  Command.withExamples([
    {
      command: "expertflow sweep reports/sweeps/default.json --workers 2 --out results.jsonl",
      description: "the default sweep on two cores; kill it and rerun to resume"
    }
  ])
)

export const mergeCommand = Command.make(
  "merge",
  {
    file: Argument.String("sweep-file").pipe(Argument.withDescription("the sweep file the shards ran")),
    inputs: Argument.String("shard-results").pipe(
      Argument.variadic({ min: 1 }),
      Argument.withDescription("the shards' results files")
    ),
    out: Flag.String("out").pipe(defaulted("results.jsonl", "the merged results file"))
  },
  (f) =>
    action(() => {
      const n = mergeResults(planSweep(f.file), [...f.inputs], f.out)
      process.stderr.write(`merged ${f.inputs.length} shard file(s): ${n} cells → ${f.out}\n`)
    })
).pipe(
  Command.withDescription("combine shard results into what one machine would have written"),
  Command.withExamples([
    {
      command: "expertflow merge reports/sweeps/default.json shard0.jsonl shard1.jsonl --out results.jsonl",
      description: "the same bytes as `sweep` on one machine"
    }
  ])
)
