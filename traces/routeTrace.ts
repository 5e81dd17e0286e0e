/**
 * Importer for llama.cpp-style route traces (`# route_trace v1`, as BigMoeOnEdge writes them):
 *
 *   # route_trace v1
 *   # model=PATH arch=gemma4 n_layer=30 n_expert=128 n_expert_used=6
 *   # layer=0 expert_bytes=4336640 dense_bytes=44191236      (one line per layer)
 *   turn,phase,step,layer,slot,expert,weight,residency,expert_bytes
 *   0,0,0,0,0,79,0.425021,0,4336640                          (one row per routed expert)
 *
 * phase 0 = prefill, 1 = decode; step = token position; slot = rank in the token's top-k;
 * residency = 1 when the engine's cache held the expert at lookup (kept as its recorded verdict);
 * expert_bytes = bytes the row loaded (0 for a repeat inside one layer batch). The engine's cache
 * accounting (global byte-budgeted LRU, lookups per layer batch, eviction after the batch, repeats
 * refresh recency, the prompt as one batch) becomes the trace's default accounting.
 */
import { InputError } from "../base/errors.ts"
import { readInput } from "../base/readInput.ts"
import { type Accounting, GAP, type Trace } from "./trace.ts"

export const ROUTE_TRACE_MAGIC = "# route_trace v1"

/** The accounting of the BigMoeOnEdge engine that writes these traces (its authors' description). */
const LLAMA_CPP_ROUTE_ACCOUNTING: Accounting = { evict: "batch", duplicates: "refresh", prefill: "chunk" }

const COLUMNS = ["turn", "phase", "step", "layer", "slot", "expert", "weight", "residency", "expert_bytes"]

interface Row {
  line: number
  turn: number
  phase: number
  step: number
  layer: number
  slot: number
  expert: number
  weight: number
  residency: number
}

/** `key=value` pairs of a header comment line. */
function pairs(line: string): Map<string, string> {
  const out = new Map<string, string>()
  for (const word of line.replace(/^#/, "").trim().split(/\s+/)) {
    const eq = word.indexOf("=")
    if (eq > 0) out.set(word.slice(0, eq), word.slice(eq + 1))
  }
  return out
}

function intField(path: string, where: string, field: string, text: string | undefined, min: number): number {
  const v = text === undefined || text.trim() === "" ? Number.NaN : Number(text)
  if (!Number.isInteger(v) || v < min)
    throw new InputError(path, where, field, text === undefined ? "missing" : `'${text}' is not an integer ≥ ${min}`)
  return v
}

export function importRouteTrace(path: string): Trace {
  const lines = readInput(path, "utf8").split("\n")
  if (lines[0]?.trim() !== ROUTE_TRACE_MAGIC)
    throw new InputError(path, "line 1", "header", `expected '${ROUTE_TRACE_MAGIC}'`)
  let L = -1,
    E = -1,
    K = -1,
    arch = "model",
    modelPath = ""
  const bytes = new Map<number, number>()
  let i = 1
  for (; i < lines.length && lines[i]!.startsWith("#"); i++) {
    const where = `line ${i + 1}`
    const kv = pairs(lines[i]!)
    if (kv.has("n_layer")) {
      L = intField(path, where, "n_layer", kv.get("n_layer"), 1)
      E = intField(path, where, "n_expert", kv.get("n_expert"), 1)
      K = intField(path, where, "n_expert_used", kv.get("n_expert_used"), 1)
      arch = kv.get("arch") ?? arch
      modelPath = kv.get("model") ?? ""
    } else if (kv.has("layer")) {
      const layer = intField(path, where, "layer", kv.get("layer"), 0)
      bytes.set(layer, intField(path, where, "expert_bytes", kv.get("expert_bytes"), 1))
    }
  }
  if (L < 0) throw new InputError(path, "header", "n_layer", "no '# model=… n_layer= n_expert= n_expert_used=' line")
  if (K > E) throw new InputError(path, "header", "n_expert_used", `${K} > n_expert ${E}`)
  const expertBytes: number[] = []
  for (let l = 0; l < L; l++) {
    const b = bytes.get(l)
    if (b === undefined)
      throw new InputError(path, "header", `layer=${l} expert_bytes`, `layer ${l} has no expert_bytes`)
    expertBytes.push(b)
  }
  for (const l of bytes.keys())
    if (l >= L) throw new InputError(path, "header", `layer=${l}`, `layer ${l} ≥ n_layer ${L}`)
  const head = (lines[i] ?? "").trim().split(",")
  if (head.join(",") !== COLUMNS.join(","))
    throw new InputError(path, `line ${i + 1}`, "columns", `expected '${COLUMNS.join(",")}'`)
  const rows: Row[] = []
  for (let j = i + 1; j < lines.length; j++) {
    const text = lines[j]!.trim()
    if (text === "") continue
    const where = `line ${j + 1}`
    const f = text.split(",")
    if (f.length !== COLUMNS.length)
      throw new InputError(path, where, "columns", `${f.length} fields, expected ${COLUMNS.length}`)
    const row: Row = {
      line: j + 1,
      turn: intField(path, where, "turn", f[0], 0),
      phase: intField(path, where, "phase", f[1], 0),
      step: intField(path, where, "step", f[2], 0),
      layer: intField(path, where, "layer", f[3], 0),
      slot: intField(path, where, "slot", f[4], 0),
      expert: intField(path, where, "expert", f[5], 0),
      weight: Number(f[6]),
      residency: intField(path, where, "residency", f[7], 0)
    }
    const loaded = intField(path, where, "expert_bytes", f[8], 0)
    if (row.phase > 1) throw new InputError(path, where, "phase", `${row.phase} is neither 0 (prefill) nor 1 (decode)`)
    if (row.layer >= L) throw new InputError(path, where, "layer", `layer ${row.layer} ≥ n_layer ${L}`)
    if (row.slot >= K) throw new InputError(path, where, "slot", `slot ${row.slot} ≥ n_expert_used ${K}`)
    if (row.expert >= E) throw new InputError(path, where, "expert", `expert id ${row.expert} ≥ n_expert ${E}`)
    if (!Number.isFinite(row.weight) || row.weight < 0)
      throw new InputError(path, where, "weight", `'${f[6]}' is not a finite non-negative number`)
    if (row.residency > 1) throw new InputError(path, where, "residency", `${row.residency} is neither 0 nor 1`)
    if (loaded !== 0 && loaded !== expertBytes[row.layer])
      throw new InputError(
        path,
        where,
        "expert_bytes",
        `${loaded}, but the header gives layer ${row.layer} ${expertBytes[row.layer]} B per expert`
      )
    rows.push(row)
  }
  if (rows.length === 0) throw new InputError(path, "data", "rows", "no routed experts after the header")
  return build(path, rows, { L, E, K, arch, modelPath, expertBytes })
}

function build(
  path: string,
  rows: Row[],
  h: { L: number; E: number; K: number; arch: string; modelPath: string; expertBytes: number[] }
): Trace {
  const { L, E, K } = h
  // Tokens in order of first appearance; a turn is a request, so turns must not interleave.
  const index = new Map<string, number>()
  const turnOf: number[] = [],
    posOf: number[] = [],
    prefill: number[] = []
  const closed = new Set<number>()
  for (const r of rows) {
    const id = `${r.turn}:${r.phase}:${r.step}`
    if (index.has(id)) continue
    const last = turnOf[turnOf.length - 1]
    if (last !== undefined && last !== r.turn) {
      closed.add(last)
      if (closed.has(r.turn))
        throw new InputError(path, `line ${r.line}`, "turn", `turn ${r.turn} resumes after another turn`)
    }
    index.set(id, turnOf.length)
    turnOf.push(r.turn)
    posOf.push(r.step)
    prefill.push(r.phase === 0 ? 1 : 0)
  }
  const T = turnOf.length
  const experts = new Uint16Array(T * L * K).fill(GAP)
  const weights = new Float32Array(T * L * K)
  const residency = new Uint8Array(T * L * K)
  const filled = new Uint8Array(T * L * K)
  for (const r of rows) {
    const cell = (index.get(`${r.turn}:${r.phase}:${r.step}`)! * L + r.layer) * K + r.slot
    if (filled[cell]) throw new InputError(path, `line ${r.line}`, "slot", `slot ${r.slot} given twice for this token`)
    filled[cell] = 1
    experts[cell] = r.expert
    weights[cell] = r.weight
    residency[cell] = r.residency
  }
  const present = new Uint8Array(T * L)
  for (let c = 0; c < T * L; c++) {
    let n = 0
    for (let k = 0; k < K; k++) n += filled[c * K + k]!
    if (n === K) present[c] = 1
    else if (n > 0) {
      const token = Math.floor(c / L)
      throw new InputError(
        path,
        `turn ${turnOf[token]} step ${posOf[token]} layer ${c % L}`,
        "slot",
        `${n} of ${K} routed experts recorded`
      )
    }
  }
  const name =
    h.modelPath
      .split("/")
      .pop()
      ?.replace(/\.gguf$/, "") || h.arch
  return {
    model: { name, layers: L, experts: E, topK: K },
    source: {
      kind: "llama.cpp-route-trace",
      description: `route trace of ${name} (${h.arch}), ${T} tokens, with the engine's residency verdicts`,
      recording: `llama.cpp-based engine's route_trace v1 (${path.split("/").pop()})`
    },
    tokens: T,
    request: Int32Array.from(turnOf),
    position: Int32Array.from(posOf),
    phase: Uint8Array.from(prefill),
    tokenId: null,
    present,
    experts,
    weights,
    routerProbs: null,
    lookaheadDepth: 0,
    lookahead: null,
    predictionDepth: 0,
    predicted: null,
    engine: { expertBytes: h.expertBytes, accounting: LLAMA_CPP_ROUTE_ACCOUNTING },
    residency
  }
}
