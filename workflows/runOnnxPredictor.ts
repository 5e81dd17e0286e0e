/**
 * Runs an ONNX route predictor (`predictor=onnx:FILE`) over every query of a trace before the
 * replay: onnxruntime-node's session is asynchronous, the replay loop is not, and the model's
 * inputs are all recorded in the trace, so batched inference up front gives the same decisions
 * as asking at each gate, faster. The contract (docs/onnx-predictor.md), by input name:
 *   token_ids    int64 [N, C]     this token's id and the C−1 before it in its request, oldest first, −1 padded
 *   past_routes  int64 [N, L, K]  this token's experts at layers ≤ the current layer, −1 elsewhere
 *   pregate      int64 [N, D, K]  pre-gate picks for the current layer + 1..D, −1 where none
 *   layer        int64 [N]        the current layer (−1: before the first MoE layer)
 * and one output, float32 [N, L, E]: a score per layer and expert (logits or probabilities).
 * A model with past_routes, pregate or layer is asked at every layer; one with token_ids alone,
 * once per token (EF-H's route-path predictor).
 */
import { performance } from "node:perf_hooks"
import { EnvironmentError, InputError } from "../base/errors.ts"
import { importModule } from "../base/importModule.ts"
import { requireFile } from "../base/readInput.ts"
import type { OnnxRoutes } from "../policies/onnxRoutes.ts"
import { parsePolicySpec } from "../policies/spec.ts"
import { GAP, type Trace } from "../traces/trace.ts"

const CONTRACT = ["token_ids", "past_routes", "pregate", "layer"] as const
const ROWS_PER_RUN = 4096

/** The ONNX model file a policy spec names, or null. */
export function onnxModelOf(policy: string): string | null {
  const spec = parsePolicySpec(policy)
  return spec.predictor === "onnx" ? (spec.predictorArgs[0] ?? null) : null
}

const computed = new Map<string, Promise<OnnxRoutes>>()

/** The model's routes for this trace (computed once per process for a (model, trace) pair). */
export function onnxRoutesFor(file: string, trace: Trace, traceName: string): Promise<OnnxRoutes> {
  const id = `${file}\u0000${traceName}\u0000${trace.tokens}`
  let r = computed.get(id)
  if (!r) {
    r = computeOnnxRoutes(file, trace, traceName)
    computed.set(id, r)
    r.catch(() => computed.delete(id))
  }
  return r
}

type Ort = typeof import("onnxruntime-node")

async function loadRuntime(): Promise<Ort> {
  try {
    return await importModule("onnxruntime-node", () => import("onnxruntime-node"))
  } catch (e) {
    throw new EnvironmentError(`predictor=onnx needs onnxruntime-node, which could not load: ${(e as Error).message}`)
  }
}

export async function computeOnnxRoutes(file: string, trace: Trace, traceName: string): Promise<OnnxRoutes> {
  requireFile(file)
  const ort = await loadRuntime()
  let session: Awaited<ReturnType<Ort["InferenceSession"]["create"]>>
  try {
    session = await ort.InferenceSession.create(file)
  } catch (e) {
    throw new InputError(file, "model", "(onnx)", `not a loadable ONNX model: ${(e as Error).message}`)
  }
  const { layers: L, experts: E, topK: K } = trace.model
  const inputs = [...session.inputNames]
  for (const name of inputs)
    if (!(CONTRACT as readonly string[]).includes(name))
      throw new InputError(file, "model", `inputs.${name}`, `not an input of the contract (${CONTRACT.join(", ")})`)
  if (inputs.length === 0) throw new InputError(file, "model", "inputs", "the model has no inputs")
  if (inputs.includes("token_ids") && !trace.tokenId)
    throw new InputError(
      traceName,
      "header",
      "tokenId",
      `the ONNX predictor ${file} reads token_ids, and this trace records no token ids`
    )
  if (inputs.includes("pregate") && (!trace.lookahead || trace.lookaheadDepth === 0))
    throw new InputError(
      traceName,
      "header",
      "columns.lookahead",
      `the ONNX predictor ${file} reads pregate, and this trace records no pre-gate lookahead`
    )
  const dim = (name: string, axis: number, fallback: number): number => {
    const meta = session.inputMetadata.find((m) => m.name === name)
    const d = meta?.isTensor ? meta.shape[axis] : undefined
    return typeof d === "number" && d > 0 ? d : fallback
  }
  const C = dim("token_ids", 1, 1)
  const D = dim("pregate", 1, trace.lookaheadDepth)
  const perLayer = inputs.some((n) => n !== "token_ids")
  const Q = perLayer ? L : 1
  const T = trace.tokens
  const ids = new Uint16Array(T * Q * L * K).fill(GAP)
  const rows = T * Q
  let ns = 0
  const order = new Int32Array(E)
  for (let start = 0; start < rows; start += ROWS_PER_RUN) {
    const n = Math.min(ROWS_PER_RUN, rows - start)
    const feeds: Record<string, InstanceType<Ort["Tensor"]>> = {}
    if (inputs.includes("token_ids")) feeds.token_ids = new ort.Tensor("int64", tokenIds(trace, start, n, Q, C), [n, C])
    if (inputs.includes("past_routes"))
      feeds.past_routes = new ort.Tensor("int64", pastRoutes(trace, start, n, Q), [n, L, K])
    if (inputs.includes("pregate")) feeds.pregate = new ort.Tensor("int64", pregate(trace, start, n, Q, D), [n, D, K])
    if (inputs.includes("layer"))
      feeds.layer = new ort.Tensor(
        "int64",
        BigInt64Array.from({ length: n }, (_, j) => BigInt(((start + j) % Q) - 1)),
        [n]
      )
    const t0 = performance.now()
    const out = (await session.run(feeds))[session.outputNames[0]!]!
    ns += (performance.now() - t0) * 1e6
    const dims = out.dims
    if (dims.length !== 3 || dims[0] !== n || dims[1] !== L || dims[2] !== E)
      throw new InputError(file, "model", `outputs.${session.outputNames[0]}`, `shape [${dims}] is not [N, ${L}, ${E}]`)
    const scores = out.data as Float32Array
    for (let j = 0; j < n; j++)
      for (let l = 0; l < L; l++) {
        const base = (j * L + l) * E
        for (let e = 0; e < E; e++) order[e] = e
        // Top-K by score, ties to the lower id; non-finite scores are never picked.
        const top = Array.from(order)
          .filter((e) => Number.isFinite(scores[base + e]!))
          .sort((x, y) => scores[base + y]! - scores[base + x]! || x - y)
        const at = ((start + j) * L + l) * K
        for (let k = 0; k < K && k < top.length; k++) ids[at + k] = top[k]!
      }
  }
  await session.release()
  return { file, inputs, perLayer, picks: K, ids, nsPerQuery: rows > 0 ? ns / rows : 0 }
}

/** Row r = token ⌊r/Q⌋ at query r mod Q: its id and the C−1 before it in its request, oldest first. */
function tokenIds(t: Trace, start: number, n: number, Q: number, C: number): BigInt64Array {
  const out = new BigInt64Array(n * C).fill(-1n)
  for (let j = 0; j < n; j++) {
    const i = Math.floor((start + j) / Q)
    for (let c = 0; c < C; c++) {
      const src = i - (C - 1 - c)
      if (src >= 0 && t.request[src] === t.request[i]) out[j * C + c] = BigInt(t.tokenId![src]!)
    }
  }
  return out
}

function pastRoutes(t: Trace, start: number, n: number, Q: number): BigInt64Array {
  const { layers: L, topK: K } = t.model
  const out = new BigInt64Array(n * L * K).fill(-1n)
  for (let j = 0; j < n; j++) {
    const i = Math.floor((start + j) / Q),
      cur = ((start + j) % Q) - 1
    for (let l = 0; l <= cur; l++)
      for (let k = 0; k < K; k++) {
        const e = t.experts[(i * L + l) * K + k]!
        if (e !== GAP) out[(j * L + l) * K + k] = BigInt(e)
      }
  }
  return out
}

function pregate(t: Trace, start: number, n: number, Q: number, D: number): BigInt64Array {
  const { layers: L, topK: K } = t.model
  const TD = t.lookaheadDepth
  const out = new BigInt64Array(n * D * K).fill(-1n)
  for (let j = 0; j < n; j++) {
    const i = Math.floor((start + j) / Q),
      cur = ((start + j) % Q) - 1
    if (cur < 0) continue
    for (let d = 1; d <= Math.min(D, TD); d++)
      for (let k = 0; k < K; k++) {
        const e = t.lookahead![((i * L + cur) * TD + d - 1) * K + k]!
        if (e !== GAP) out[(j * D + d - 1) * K + k] = BigInt(e)
      }
  }
  return out
}
