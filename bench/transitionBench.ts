/**
 * Transition-table benchmark (`npx tsx bench/transitionBench.ts`): on the benchmarks' DeepSeek-V3
 * trace at batch 8 (and batch 1, where a step's sets are sparse), the time to count one table
 * block by pair increments and by bitset popcounts (policies/transition.ts), and to answer one
 * row-sum query (SIMD kernel), in-process. Each figure is the median of --rounds (default 5)
 * fresh tables, each counting the blocks (fold 0, layers 0..19, d = 1..4). Prints one JSON line.
 */
import { existsSync } from "node:fs"
import { join, relative } from "node:path"
import { median } from "simple-statistics"
import { actualSet } from "../policies/predictor.ts"
import { crossFit } from "../policies/training.ts"
import { TransitionTables } from "../policies/transition.ts"
import { buildAccessStream } from "../traces/batching.ts"
import { loadTrace } from "../traces/load.ts"
import { deepseekTraceFile } from "./deepseekTrace.ts"

const root = join(import.meta.dirname, "..")
const i = process.argv.indexOf("--rounds")
const rounds = i > 0 ? Number(process.argv[i + 1]) : 5
const file = deepseekTraceFile(root, 40_000)
if (!existsSync(file)) throw new Error(`${file}: run bench/policyBench.ts first (it writes the trace)`)
const trace = loadTrace(file, null)
const LAYERS = 20,
  DISTANCES = 4

const rows = [8, 1].map((batch) => {
  const stream = buildAccessStream(trace, batch)
  const ctx = { stream, trace, traceName: file, top: 0, training: crossFit(stream, trace), args: [] }
  const perBlock = (countBy: "pairs" | "bitsets" | "cost") =>
    median(
      Array.from({ length: rounds }, () => {
        const tables = new TransitionTables(ctx, DISTANCES, countBy)
        const t0 = performance.now()
        for (let l = 0; l < LAYERS; l++)
          for (let d = 1; d <= DISTANCES; d++) tables.rowSum(0, l, d, actualSet(stream, 0, l))
        return (performance.now() - t0) / (LAYERS * DISTANCES)
      })
    )
  // Row sums over consecutive steps of each block (blocks already counted): the queries a replay makes.
  const tables = new TransitionTables(ctx, DISTANCES)
  for (let l = 0; l < LAYERS; l++) tables.rowSum(0, l, 2, actualSet(stream, 0, l))
  const steps = Math.min(2000, ctx.training.split ?? stream.steps)
  const perQuery = median(
    Array.from({ length: rounds }, () => {
      const t0 = performance.now()
      for (let s = 0; s < steps; s++) {
        for (let l = 0; l < LAYERS; l++) tables.rowSum(0, l, 2, actualSet(stream, s, l))
      }
      return ((performance.now() - t0) * 1000) / (steps * LAYERS)
    })
  )
  const row = {
    batch,
    block_ms_pairs: perBlock("pairs"),
    block_ms_bitsets: perBlock("bitsets"),
    block_ms_chosen: perBlock("cost"),
    row_sum_us: perQuery
  }
  process.stderr.write(
    `batch ${batch}: a block by pairs ${row.block_ms_pairs.toFixed(2)} ms, by bitsets ` +
      `${row.block_ms_bitsets.toFixed(2)} ms, as chosen ${row.block_ms_chosen.toFixed(2)} ms; ` +
      `a row sum ${row.row_sum_us.toFixed(2)} µs\n`
  )
  return row
})
console.log(JSON.stringify({ trace: relative(root, file), rounds, rows }))
