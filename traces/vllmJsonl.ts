/**
 * Importer for vLLM-style routing logs: one JSON object per (request, token, layer) line, e.g.
 *   {"problem_id":0,"token_idx":3,"layer":7,"experts":[6,5],"gating_probs":[0.69,0.31]}
 * Accepted names: request = problem_id | request_id; token = token_idx | token_index | position;
 * experts = experts | topk_ids; weights = gating_probs | topk_weights | weights. Optional:
 * token_id, phase ("prefill" | "decode"), router_probs (E floats), lookahead (D arrays of top-k ids),
 * predicted (expert ids an external route predictor named for this token and layer).
 * Lines may come in any order; tokens are stored by (request, token). A (token, layer) that no line
 * covers is a gap: accepted, reported by `trace stats`, never read as "no experts needed".
 */
import { InputError } from "../base/errors.ts"
import { readInput } from "../base/readInput.ts"
import { GAP, type Trace, type TraceModel } from "./trace.ts"

interface Row {
  line: number
  request: number
  token: number
  layer: number
  experts: number[]
  weights: number[]
  tokenId: number | undefined
  phase: number | undefined
  probs: number[] | undefined
  lookahead: number[][] | undefined
  predicted: number[] | undefined
}

const pick = (o: Record<string, unknown>, names: string[]): [string, unknown] | undefined => {
  for (const n of names) if (n in o) return [n, o[n]]
  return undefined
}

/** A value as the user wrote it, as far as JSON lets us see: 1e999 parses to Infinity. */
const shown = (v: unknown): string =>
  typeof v === "number" && !Number.isFinite(v)
    ? `${v} (a number too large for a double, e.g. 1e999)`
    : typeof v === "string"
      ? v
      : JSON.stringify(v)

export function importVllmJsonl(path: string, model: TraceModel, text = readInput(path, "utf8")): Trace {
  const { layers: L, experts: E, topK: K } = model
  const lines = text.split("\n")
  const endsWithNewline = text.endsWith("\n")
  const rows: Row[] = []
  let lookaheadDepth = -1
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.trim()
    if (raw === "") continue
    const lineNo = i + 1
    const where = `line ${lineNo}`
    let obj: unknown
    try {
      // Python's json writes NaN/Infinity bare; read them as strings so the field check shows them.
      obj = JSON.parse(raw.replace(/(?<!")\b(NaN|-?Infinity)\b(?!")/g, '"$1"'))
    } catch (e) {
      const truncated = i === lines.length - 1 && !endsWithNewline
      throw new InputError(
        path,
        where,
        "(json)",
        truncated ? `truncated last line: ${(e as Error).message}` : `malformed JSON: ${(e as Error).message}`
      )
    }
    if (typeof obj !== "object" || obj === null || Array.isArray(obj))
      throw new InputError(path, where, "(json)", "expected a JSON object")
    const o = obj as Record<string, unknown>
    const int = (names: string[], max?: number): number => {
      const f = pick(o, names)
      if (!f) throw new InputError(path, where, names[0]!, "missing field")
      const [name, v] = f
      if (typeof v !== "number" || !Number.isInteger(v) || v < 0)
        throw new InputError(path, where, name, `expected a non-negative integer, got ${shown(v)}`)
      if (max !== undefined && v >= max) throw new InputError(path, where, name, `${v} out of range (must be < ${max})`)
      return v
    }
    const request = int(["problem_id", "request_id"])
    const token = int(["token_idx", "token_index", "position"])
    const layer = int(["layer"], L)
    const ef = pick(o, ["experts", "topk_ids"])
    if (!ef) throw new InputError(path, where, "experts", "missing field")
    const wf = pick(o, ["gating_probs", "topk_weights", "weights"])
    if (!wf) throw new InputError(path, where, "gating_probs", "missing field")
    const [eName, ev] = ef
    const [wName, wv] = wf
    if (!Array.isArray(ev) || ev.length !== K)
      throw new InputError(
        path,
        where,
        eName,
        `expected ${K} expert ids (top-k of ${model.name}), got ${JSON.stringify(ev)}`
      )
    if (!Array.isArray(wv) || wv.length !== K)
      throw new InputError(path, where, wName, `expected ${K} weights, got ${JSON.stringify(wv)}`)
    const experts = ev.map((e, k) => {
      if (typeof e !== "number" || !Number.isInteger(e) || e < 0 || e >= E)
        throw new InputError(
          path,
          where,
          `${eName}[${k}]`,
          `expert id ${JSON.stringify(e)} out of range (experts: ${E})`
        )
      if (ev.indexOf(e) !== k) throw new InputError(path, where, `${eName}[${k}]`, `expert ${e} listed twice`)
      return e
    })
    const weights = wv.map((w, k) => {
      if (typeof w !== "number" || !Number.isFinite(w) || w < 0)
        throw new InputError(path, where, `${wName}[${k}]`, `weight ${shown(w)} is not a finite non-negative number`)
      return w
    })
    let tokenId: number | undefined
    if ("token_id" in o) tokenId = int(["token_id"])
    let phase: number | undefined
    if ("phase" in o) {
      if (o.phase !== "prefill" && o.phase !== "decode")
        throw new InputError(path, where, "phase", `expected "prefill" or "decode", got ${JSON.stringify(o.phase)}`)
      phase = o.phase === "prefill" ? 1 : 0
    }
    let probs: number[] | undefined
    if ("router_probs" in o) {
      const p = o.router_probs
      if (!Array.isArray(p) || p.length !== E || p.some((x) => typeof x !== "number" || !Number.isFinite(x) || x < 0)) {
        throw new InputError(path, where, "router_probs", `expected ${E} finite non-negative probabilities`)
      }
      probs = p as number[]
    }
    let lookahead: number[][] | undefined
    if ("lookahead" in o) {
      const la = o.lookahead
      if (
        !Array.isArray(la) ||
        la.some(
          (d) =>
            !Array.isArray(d) ||
            d.length !== K ||
            d.some((e) => typeof e !== "number" || !Number.isInteger(e) || e < 0 || e >= E)
        )
      ) {
        throw new InputError(path, where, "lookahead", `expected D arrays of ${K} expert ids < ${E}`)
      }
      // Layers near the last have fewer distances (l + d < L): D is the longest list, the rest are gaps.
      if (la.length > L - 1 - layer)
        throw new InputError(
          path,
          where,
          "lookahead",
          `${la.length} distances, but layer ${layer} has only ${L - 1 - layer} layers after it`
        )
      lookaheadDepth = Math.max(lookaheadDepth, la.length)
      lookahead = la as number[][]
    }
    let predicted: number[] | undefined
    if ("predicted" in o) {
      const p = o.predicted
      if (!Array.isArray(p) || p.some((e) => typeof e !== "number" || !Number.isInteger(e) || e < 0 || e >= E)) {
        throw new InputError(path, where, "predicted", `expected an array of expert ids < ${E}`)
      }
      predicted = p as number[]
    }
    rows.push({ line: lineNo, request, token, layer, experts, weights, tokenId, phase, probs, lookahead, predicted })
  }
  if (rows.length === 0) throw new InputError(path, "file", "(records)", "no routing records: the file is empty")
  return buildTrace(path, model, rows, Math.max(0, lookaheadDepth))
}

function buildTrace(path: string, model: TraceModel, rows: Row[], D: number): Trace {
  const { layers: L, experts: E, topK: K } = model
  // Token order: request id, then token index. Stable and independent of line order.
  const tokenKeys = new Map<string, { request: number; token: number }>()
  for (const r of rows) tokenKeys.set(`${r.request}:${r.token}`, { request: r.request, token: r.token })
  const ordered = [...tokenKeys.values()].sort((a, b) => a.request - b.request || a.token - b.token)
  const indexOf = new Map<string, number>()
  ordered.forEach((k, i) => {
    indexOf.set(`${k.request}:${k.token}`, i)
  })
  const T = ordered.length
  const hasTokenId = rows.some((r) => r.tokenId !== undefined)
  const hasPhase = rows.some((r) => r.phase !== undefined)
  const hasProbs = rows.some((r) => r.probs !== undefined)
  const P = rows.reduce((m, r) => Math.max(m, r.predicted?.length ?? 0), 0)
  const weights = new Float32Array(T * L * K)
  const t: Trace = {
    model: { name: model.name, layers: L, experts: E, topK: K },
    tokens: T,
    source: { kind: "vllm-jsonl", description: `imported from ${path}`, recording: "per-(token, layer) routing log" },
    request: Int32Array.from(ordered, (k) => k.request),
    position: Int32Array.from(ordered, (k) => k.token),
    phase: hasPhase ? new Uint8Array(T) : null,
    tokenId: hasTokenId ? new Int32Array(T).fill(-1) : null,
    present: new Uint8Array(T * L),
    experts: new Uint16Array(T * L * K).fill(GAP),
    weights,
    routerProbs: hasProbs ? new Float32Array(T * L * E) : null,
    lookaheadDepth: D,
    lookahead: D > 0 ? new Uint16Array(T * L * D * K).fill(GAP) : null,
    predictionDepth: P,
    predicted: P > 0 ? new Uint16Array(T * L * P).fill(GAP) : null
  }
  const firstLine = new Int32Array(T * L)
  for (const r of rows) {
    const ti = indexOf.get(`${r.request}:${r.token}`)!
    const cell = ti * L + r.layer
    if (t.present[cell]) {
      throw new InputError(
        path,
        `line ${r.line}`,
        "layer",
        `duplicate (request ${r.request}, token ${r.token}, layer ${r.layer}); first seen on line ${firstLine[cell]}`
      )
    }
    t.present[cell] = 1
    firstLine[cell] = r.line
    for (let k = 0; k < K; k++) {
      t.experts[cell * K + k] = r.experts[k]!
      weights[cell * K + k] = r.weights[k]!
    }
    if (r.tokenId !== undefined) t.tokenId![ti] = r.tokenId
    if (r.phase !== undefined) t.phase![ti] = r.phase
    if (r.probs) t.routerProbs!.set(r.probs, cell * E)
    if (r.predicted) t.predicted!.set(r.predicted, cell * P)
    if (r.lookahead && t.lookahead) {
      for (let d = 0; d < r.lookahead.length; d++)
        for (let k = 0; k < K; k++) {
          t.lookahead[(cell * D + d) * K + k] = r.lookahead[d]![k]!
        }
    }
  }
  return t
}
