/**
 * The in-memory trace: columnar typed arrays, one row per token, `layers × topK` routing cells
 * per token. A (token, layer) cell that the recorder did not capture is a *gap*: `present` is 0,
 * its experts are GAP. Gaps mean "unknown", never "no expert needed".
 */
export const GAP = 0xffff

export interface TraceModel {
  readonly name: string
  readonly layers: number
  readonly experts: number
  readonly topK: number
}

export interface TraceSource {
  /** e.g. "vllm-jsonl", "synthetic-zipf", "pytorch-recorder" */
  readonly kind: string
  readonly description: string
  /** How it was recorded (model weights, decoding, hook), free text. */
  readonly recording: string
}

/**
 * How a real engine's expert cache accounts (DESIGN.md: named options, never hidden choices):
 *   evict       "insert": make room at each insertion (today's default); "batch": insert the whole
 *               layer batch, then evict down to the budget, never evicting what the batch touched
 *   duplicates  "first": an expert listed twice in one layer batch counts at its first listing;
 *               "refresh": its later listings refresh its recency too
 *   prefill     "chunk": a request's prompt is one step (one batch per layer); "token": one
 *               token per step
 */
export interface Accounting {
  readonly evict: "insert" | "batch"
  readonly duplicates: "first" | "refresh"
  readonly prefill: "chunk" | "token"
}

export const DEFAULT_ACCOUNTING: Accounting = { evict: "insert", duplicates: "first", prefill: "chunk" }

/** What a trace recorded inside a real serving engine says about that engine. */
export interface RecordingEngine {
  /** One expert's bytes per layer, as the engine's model file stores them. */
  readonly expertBytes: ReadonlyArray<number>
  /** The engine's cache accounting rules (the defaults of a replay of this trace). */
  readonly accounting: Accounting
}

export interface Trace {
  readonly model: TraceModel
  readonly source: TraceSource
  readonly tokens: number
  /** Request id of each token; tokens are stored grouped by request, in request order. */
  readonly request: Int32Array
  /** Position of the token inside its request (0-based). */
  readonly position: Int32Array
  /** 1 = prefill token, 0 = decode token; null when the recording does not say (all decode). */
  readonly phase: Uint8Array | null
  readonly tokenId: Int32Array | null
  /** tokens × layers: 1 where the routing was recorded. */
  readonly present: Uint8Array
  /** tokens × layers × topK expert ids, in the router's order; GAP where absent. */
  readonly experts: Uint16Array
  /**
   * tokens × layers × topK gate weights; null when read for a replay (`readTrace(path, { weights:
   * false })`): no simulation reads them, and they are two thirds of a canonical file's bytes.
   */
  readonly weights: Float32Array | null
  /** tokens × layers × experts router probabilities, when recorded. */
  readonly routerProbs: Float32Array | null
  /** Pre-gate lookahead depth D (0 = none). */
  readonly lookaheadDepth: number
  /** tokens × layers × D × topK: experts gate_{l+d} picks from layer l's hidden state; GAP past the last layer. */
  readonly lookahead: Uint16Array | null
  /** Route predictions recorded by an external model: P experts per (token, layer), GAP-padded. */
  readonly predictionDepth: number
  readonly predicted: Uint16Array | null
  /** The recording engine's expert sizes and accounting, when it said. */
  readonly engine?: RecordingEngine
  /** tokens × layers × topK: 1 where the engine's cache held the expert at lookup (its own verdict). */
  readonly residency?: Uint8Array
}

/** Count the (token, layer) cells that are gaps. */
export function countGaps(t: Trace): number {
  let gaps = 0
  for (let i = 0; i < t.present.length; i++) if (t.present[i] === 0) gaps++
  return gaps
}

/** Requests in stored order with their token ranges [start, end). */
export function requestRanges(t: Trace): Array<{ id: number; start: number; end: number }> {
  const out: Array<{ id: number; start: number; end: number }> = []
  for (let i = 0; i < t.tokens; i++) {
    const last = out[out.length - 1]
    if (last && last.id === t.request[i]) last.end = i + 1
    else out.push({ id: t.request[i]!, start: i, end: i + 1 })
  }
  return out
}

/** The first `tokens` tokens of a trace (whole trace if shorter): short validation runs. */
export function prefixTokens(t: Trace, tokens: number): Trace {
  if (tokens >= t.tokens) return t
  const { layers: L, experts: E, topK: K } = t.model
  const D = t.lookaheadDepth,
    P = t.predictionDepth
  return {
    ...t,
    tokens,
    request: t.request.slice(0, tokens),
    position: t.position.slice(0, tokens),
    phase: t.phase ? t.phase.slice(0, tokens) : null,
    tokenId: t.tokenId ? t.tokenId.slice(0, tokens) : null,
    present: t.present.slice(0, tokens * L),
    experts: t.experts.slice(0, tokens * L * K),
    weights: t.weights ? t.weights.slice(0, tokens * L * K) : null,
    routerProbs: t.routerProbs ? t.routerProbs.slice(0, tokens * L * E) : null,
    lookahead: t.lookahead ? t.lookahead.slice(0, tokens * L * D * K) : null,
    predicted: t.predicted ? t.predicted.slice(0, tokens * L * P) : null,
    ...(t.residency ? { residency: t.residency.slice(0, tokens * L * K) } : {})
  }
}
