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

/** Heap scratch for topByScore (grown on demand; the replay is single-threaded). */
let heap = new Int32Array(64)

/**
 * Top-n experts by score (ties: lower id first; only scores > 0), written to out best first.
 * A bounded min-heap whose root is the worst kept expert: O(E log n) instead of n passes over E.
 * "a worse than b" is (score a < score b) or (equal scores and a > b), written out inline.
 */
export function topByScore(scores: Float64Array, n: number, out: Uint16Array): number {
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

/** Key scratch for topByCount. */
let keys = new Float64Array(64)

/**
 * topByScore for integer scores (counts), same picks in the same order: each expert's (count, id)
 * is packed into one key, count · E + (E − 1 − id), so no two keys tie; a quickselect moves the n
 * largest to the end, and an insertion sort orders just those (for E = 256, n = 64: about 0.7 the
 * time of a bounded heap). A count too large for its key to be exact goes to topByScore.
 */
export function topByCount(counts: Float64Array, n: number, out: Uint16Array): number {
  const E = counts.length
  if (keys.length < E) keys = new Float64Array(E)
  const k = keys
  const exactBelow = 2 ** 53 / E
  let m = 0
  for (let e = 0; e < E; e++) {
    const c = counts[e]!
    if (c >= exactBelow) return topByScore(counts, n, out)
    if (c > 0) k[m++] = c * E + (E - 1 - e)
  }
  const take = Math.min(n, m)
  if (take <= 0) return 0
  const first = m - take
  // Quickselect (Hoare partition, median-of-three pivot): k[first, m) ends up the largest keys.
  let lo = 0,
    hi = m - 1
  while (lo < hi) {
    const a = k[lo]!,
      b = k[(lo + hi) >> 1]!,
      c = k[hi]!
    const pivot = Math.max(Math.min(a, b), Math.min(Math.max(a, b), c))
    let i = lo,
      j = hi
    while (i <= j) {
      while (k[i]! < pivot) i++
      while (k[j]! > pivot) j--
      if (i <= j) {
        const x = k[i]!
        k[i++] = k[j]!
        k[j--] = x
      }
    }
    if (first <= j) hi = j
    else if (first >= i) lo = i
    else break
  }
  // Those, largest first.
  for (let i = first + 1; i < m; i++) {
    const x = k[i]!
    let j = i - 1
    for (; j >= first && k[j]! < x; j--) k[j + 1] = k[j]!
    k[j + 1] = x
  }
  for (let i = 0; i < take; i++) out[i] = E - 1 - (k[first + i]! % E)
  return take
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
