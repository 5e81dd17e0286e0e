import type { SharedBlocks } from "./structures/sharedBlocks.ts"
import type { AccessStream } from "../traces/batching.ts"
import type { Trace } from "../traces/trace.ts"
import type { OnnxRoutes } from "./onnxRoutes.ts"
import type { Training } from "./training.ts"

/**
 * Predicts which experts a (step, layer) will need, using only what is known at the gate of
 * (curStep, curLayer): every earlier step, and layers ≤ curLayer of the current one.
 */
export interface Predictor {
  readonly name: string
  /** Write the predicted expert ids into `out`; return how many. */
  predict(step: number, layer: number, curStep: number, curLayer: number, out: Uint16Array): number
  /** Probability per expert for (step, layer), for predictors that have one; returns false if not. */
  distribution?(step: number, layer: number, curStep: number, curLayer: number, out: Float64Array): boolean
  /** A remark for the result (e.g. "no pre-gate lookahead in trace: history only"). */
  readonly note?: string
  /** Host time the predictor costs before step `step` runs, when it is charged (ns). */
  hostNs?(step: number): number
  /** Every answer depends on its query alone, never on the queries before it: any order gives the same answers. */
  readonly orderFree?: boolean
  /**
   * Do one bounded piece of work a later query will need (e.g. build a table block); false when
   * none is left. For a thread that would otherwise wait (predict ahead); answers do not change.
   */
  prepare?(): boolean
}

export interface PredictorContext {
  readonly stream: AccessStream
  readonly trace: Trace
  /** For error messages. */
  readonly traceName: string
  /** How many experts a scoring predictor returns for a target (0 = its default). */
  readonly top: number
  /** Training data for learned predictors: never the steps they are scored on (see training.ts). */
  readonly training: Training
  /** Predictor options from the policy spec (e.g. `predictor=transition:decay=0.5`). */
  readonly args: ReadonlyArray<string>
  /** An ONNX model's decisions, computed before the replay (`predictor=onnx`). */
  readonly onnx?: OnnxRoutes
  /** Folds another thread trains (workflows/trainAhead.ts), for a predictor that can adopt them. */
  readonly foldsElsewhere?: FoldsElsewhere
  /** Transition-table blocks shared with another thread of the run (workflows/predictAhead.ts). */
  readonly sharedBlocks?: SharedBlocks
}

/**
 * Models trained on another thread: `take(fold)` waits for the fold's and gives what the
 * predictor's `trainFold` (registry.ts) made there, or null for a fold to train here.
 */
export interface FoldsElsewhere {
  take(fold: number): unknown
}

/** Set of experts at (step, layer) in the stream. */
export function actualSet(a: AccessStream, step: number, layer: number): Uint16Array {
  const cell = step * a.layers + layer
  return a.keys.subarray(a.offsets[cell]!, a.offsets[cell + 1]!)
}

/** Default number of experts a scoring predictor names for a step: top-k for each of its tokens. */
export function defaultTop(ctx: PredictorContext, step: number): number {
  if (ctx.top > 0) return ctx.top
  const tokens = ctx.stream.stepTokenOffsets[step + 1]! - ctx.stream.stepTokenOffsets[step]!
  return Math.min(ctx.stream.experts, ctx.trace.model.topK * Math.max(1, tokens))
}

/**
 * A predictor that scores every expert of the target: it names the top-n (n = `top`, or top-k per
 * token of the step) and offers the normalized scores as its probabilities.
 */
export function scoringPredictor(
  name: string,
  ctx: PredictorContext,
  scores: Float64Array,
  score: (step: number, layer: number, curStep: number, curLayer: number) => void,
  note?: string
): Predictor {
  // Scores are a pure function of the query: the prefetcher often asks for a target's
  // distribution and then its picks, so the last query's scores are reused.
  let last0 = -1,
    last1 = -1,
    last2 = -1,
    last3 = -1
  const scoreOnce = (step: number, layer: number, curStep: number, curLayer: number) => {
    if (step === last0 && layer === last1 && curStep === last2 && curLayer === last3) return
    score(step, layer, curStep, curLayer)
    last0 = step
    last1 = layer
    last2 = curStep
    last3 = curLayer
  }
  return {
    name,
    ...(note !== undefined ? { note } : {}),
    predict(step, layer, curStep, curLayer, out) {
      scoreOnce(step, layer, curStep, curLayer)
      return topByScore(scores, defaultTop(ctx, step), out)
    },
    distribution(step, layer, curStep, curLayer, out) {
      scoreOnce(step, layer, curStep, curLayer)
      return normalize(scores, out)
    }
  }
}

/** Normalize scores into a probability per expert (false when all are zero). */
export function normalize(scores: Float64Array, out: Float64Array): boolean {
  let sum = 0
  for (let e = 0; e < scores.length; e++) sum += scores[e]!
  if (sum <= 0) return false
  for (let e = 0; e < scores.length; e++) out[e] = scores[e]! / sum
  return true
}

/** Score bins for topByScore: bin 0 is unused, bins 1..BINS split (0, max] evenly. */
const BINS = 256
const bins = new Int32Array(BINS + 1)
/** Candidate ids for topByScore (grown on demand; the replay is single-threaded). */
let candidates = new Uint16Array(256)

/**
 * Top-n experts by score (ties: lower id first; only scores > 0), written to out best first.
 * A histogram over BINS equal bins of (0, max] finds the bin the n-th best falls in; the experts
 * in it and above are scattered by bin, highest first and by id within a bin, and an insertion
 * sort orders them within their bins (a bin is monotone in the score, so nothing moves across
 * bins, and the sort is stable, so equal scores stay by id). Four passes over E with few
 * comparisons between scores, where a heap or a quickselect compares at nearly every step: for
 * E = 256, n = 64 on the transition tables' counts, 4.6 µs a call against 9.4 µs for a
 * quickselect over packed keys. Small E, an infinite score, or a threshold bin so crowded that
 * sorting in it would cost more than the heap, go to the heap.
 */
export function topByScore(scores: Float64Array, n: number, out: Uint16Array): number {
  const E = scores.length
  if (n <= 0) return 0
  if (E < 32) return topByHeap(scores, n, out)
  let max = 0
  for (let e = 0; e < E; e++) {
    const s = scores[e]!
    if (s > max) max = s
  }
  if (!(max > 0)) return 0
  const scale = (BINS - 1) / max
  if (!(scale > 0 && scale < Number.POSITIVE_INFINITY)) return topByHeap(scores, n, out)
  const h = bins.fill(0)
  for (let e = 0; e < E; e++) {
    const s = scores[e]!
    if (s > 0) h[1 + Math.floor(s * scale)]!++
  }
  // From the top bin down until n are in; each bin's count becomes its first position.
  let kept = 0,
    crowding = 0,
    cut = BINS
  for (; cut > 0; cut--) {
    const c = h[cut]!
    h[cut] = kept
    kept += c
    crowding += c * c
    if (kept >= n) break
  }
  if (crowding > 4 * E) return topByHeap(scores, n, out)
  if (candidates.length < E) candidates = new Uint16Array(E)
  const c = candidates
  for (let e = 0; e < E; e++) {
    const s = scores[e]!
    if (s > 0) {
      const b = 1 + Math.floor(s * scale)
      if (b >= cut) c[h[b]!++] = e
    }
  }
  for (let i = 1; i < kept; i++) {
    const x = c[i]!,
      sx = scores[x]!
    let j = i - 1
    for (; j >= 0 && scores[c[j]!]! < sx; j--) c[j + 1] = c[j]!
    c[j + 1] = x
  }
  const take = Math.min(n, kept)
  for (let i = 0; i < take; i++) out[i] = c[i]!
  return take
}

/** Heap scratch for topByHeap (grown on demand). */
let heap = new Int32Array(64)

/**
 * topByScore by a bounded min-heap whose root is the worst kept expert: O(E log n).
 * "a worse than b" is (score a < score b) or (equal scores and a > b), written out inline.
 */
function topByHeap(scores: Float64Array, n: number, out: Uint16Array): number {
  const E = scores.length
  const cap = Math.min(n, E)
  if (cap <= 0) return 0
  if (heap.length < cap) heap = new Int32Array(cap * 2)
  const h = heap
  let size = 0
  for (let e = 0; e < E; e++) {
    const se = scores[e]!
    if (!(se > 0)) continue
    if (size < cap) {
      let i = size++
      while (i > 0) {
        const p = (i - 1) >> 1
        const hp = h[p]!,
          sp = scores[hp]!
        if (!(se < sp || (se === sp && e > hp))) break
        h[i] = hp
        i = p
      }
      h[i] = e
    } else {
      const root = h[0]!,
        sr = scores[root]!
      if (sr < se || (sr === se && root > e)) siftDown(scores, h, size, e)
    }
  }
  // Pop the worst first into the back of out: out[0] is the best.
  for (let k = size; k > 0; k--) {
    out[k - 1] = h[0]!
    if (k > 1) siftDown(scores, h, k - 1, h[k - 1]!)
  }
  return size
}

/** Put `e` at the root of the heap h[0, size) and sift it down (the worse child rises). */
function siftDown(scores: Float64Array, h: Int32Array, size: number, e: number): void {
  const se = scores[e]!
  let i = 0
  for (;;) {
    const l = 2 * i + 1
    if (l >= size) break
    let c = l
    const r = l + 1
    if (r < size) {
      const hl = h[l]!,
        hr = h[r]!,
        sl = scores[hl]!,
        sr = scores[hr]!
      if (sr < sl || (sr === sl && hr > hl)) c = r
    }
    const hc = h[c]!,
      sc = scores[hc]!
    if (!(sc < se || (sc === se && hc > e))) break
    h[i] = hc
    i = c
  }
  h[i] = e
}
