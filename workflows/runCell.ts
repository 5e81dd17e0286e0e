import type { ResultRecord } from "../sim/result.ts"
import { loadHardware, loadModel } from "../base/profiles.ts"
import { checkSimulation, modelFromTrace, type SimulationInput, simulate } from "./simulate.ts"
import type { Cell } from "./sweepFile.ts"
import { parseBytes } from "../base/bytes.ts"
import { traceName, traceOf } from "./workloads.ts"
import { prefixTokens } from "../traces/trace.ts"
import type { OnnxRoutes } from "../policies/onnxRoutes.ts"
import { onnxModelOf, onnxRoutesFor } from "./runOnnxPredictor.ts"

/** One line of a results file: the result record plus where it sits in its sweep. */
export type CellResult = ResultRecord & {
  sweep: string
  cell_index: number
  cell_id: string
  policy_label: string
  cache_spec: string
}

/** The simulation inputs of one cell; `tokens` replays only the trace's first tokens (a warm-up). */
function cellInput(cell: Cell, tokens?: number): SimulationInput {
  const trace = tokens === undefined ? traceOf(cell.trace) : prefixTokens(traceOf(cell.trace), tokens)
  const model = cell.trace.model === undefined ? modelFromTrace(trace) : loadModel(cell.trace.model)
  const c = cell.cache
  const size =
    "slots" in c
      ? { cacheSlots: c.slots }
      : "bytes" in c
        ? { gpuMemBytes: parseBytes(c.bytes) }
        : "cacheBytes" in c
          ? { cacheBytes: parseBytes(c.cacheBytes) }
          : { cacheSlots: Math.max(1, Math.round(c.fraction * model.layers * model.experts)) }
  return {
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
  }
}

/** Run one cell; `tokens` replays only the trace's first tokens (a sweep worker's warm-up). */
export function runCell(sweep: string, cell: Cell, tokens?: number, onnx?: OnnxRoutes): CellResult {
  const { record } = simulate({ ...cellInput(cell, tokens), ...(onnx ? { onnx } : {}) })
  return {
    sweep,
    cell_index: cell.index,
    cell_id: cell.id,
    policy_label: cell.policyLabel,
    cache_spec: cell.cacheLabel,
    ...record
  }
}

/** Run one cell, first computing its ONNX predictor's routes when its spec names one. */
export async function runCellAsync(sweep: string, cell: Cell): Promise<CellResult> {
  const file = onnxModelOf(cell.policy)
  if (!file) return runCell(sweep, cell)
  return runCell(sweep, cell, undefined, await onnxRoutesFor(file, traceOf(cell.trace), traceName(cell.trace)))
}

/** Check one cell without running it (what would stop it: trace, model, spec, budget). */
export function checkCell(cell: Cell): void {
  checkSimulation(cellInput(cell))
}
