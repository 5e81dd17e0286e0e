import type { ResultRecord } from "../sim/result.ts"
import { loadHardware, loadModel } from "../base/profiles.ts"
import { simulate } from "./simulate.ts"
import type { Cell } from "./sweepFile.ts"
import { parseBytes } from "../base/bytes.ts"
import { traceName, traceOf } from "./workloads.ts"
import { prefixTokens } from "../traces/trace.ts"

/** One line of a results file: the result record plus where it sits in its sweep. */
export type CellResult = ResultRecord & {
  sweep: string
  cell_index: number
  cell_id: string
  policy_label: string
  cache_spec: string
}

/** Run one cell; `tokens` replays only the trace's first tokens (a sweep worker's warm-up). */
export function runCell(sweep: string, cell: Cell, tokens?: number): CellResult {
  const model = loadModel(cell.trace.model)
  const size =
    "slots" in cell.cache
      ? { cacheSlots: cell.cache.slots }
      : "bytes" in cell.cache
        ? { gpuMemBytes: parseBytes(cell.cache.bytes) }
        : { cacheSlots: Math.max(1, Math.round(cell.cache.fraction * model.layers * model.experts)) }
  const trace = tokens === undefined ? traceOf(cell.trace) : prefixTokens(traceOf(cell.trace), tokens)
  const { record } = simulate({
    trace,
    traceName: traceName(cell.trace),
    model,
    hardware: loadHardware(cell.hardware),
    policy: cell.policy,
    mode: cell.mode,
    ...size,
    batch: cell.batch,
    perLayer: false,
    seed: cell.seed,
    timeline: false
  })
  return {
    sweep,
    cell_index: cell.index,
    cell_id: cell.id,
    policy_label: cell.policyLabel,
    cache_spec: cell.cacheLabel,
    ...record
  }
}
