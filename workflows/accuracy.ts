/**
 * Prediction accuracy against lookahead distance (EF-A Fig. 8 / Table 2): for each distance
 * d = 1..D, at every gate (step, l) with l + d in the same step, predict layer l + d and score
 * recall |P ∩ A| / |A| (EF-H's B_acc per target) and precision; then fit
 * f(d) = a·e^(−b·d) + c to the recall curve (grid over b, least squares for a and c).
 */
import type { OnnxRoutes } from "../policies/onnxRoutes.ts"
import { linearRegression } from "simple-statistics"
import type { AccessStream } from "../traces/batching.ts"
import type { Trace } from "../traces/trace.ts"
import { actualSet } from "../policies/predictor.ts"
import { predictors } from "../policies/registry.ts"
import type { Training } from "../policies/training.ts"

export interface AccuracyCurve {
  predictor: string
  note: string | null
  distances: number[]
  recall: number[]
  precision: number[]
  fit: { a: number; b: number; c: number; rmse: number } | null
}

const r4 = (x: number) => Math.round(x * 1e4) / 1e4

export function accuracyCurve(
  name: string,
  trace: Trace,
  traceName: string,
  stream: AccessStream,
  training: Training,
  maxDistance: number,
  top = 0,
  /** Predictor arguments (`onnx:FILE` → ["FILE"]) and an ONNX model's precomputed routes. */
  extra: { args?: ReadonlyArray<string>; onnx?: OnnxRoutes } = {}
): AccuracyCurve {
  const p = predictors[name]!.make({
    stream,
    trace,
    traceName,
    top,
    training,
    args: extra.args ?? [],
    ...(extra.onnx ? { onnx: extra.onnx } : {})
  })
  const L = stream.layers
  const out = new Uint16Array(stream.experts)
  const mark = new Uint8Array(stream.experts)
  const distances: number[] = [],
    recall: number[] = [],
    precision: number[] = []
  for (let d = 1; d <= Math.min(maxDistance, L - 1); d++) {
    let rec = 0,
      n = 0,
      hit = 0,
      named = 0
    for (let s = 0; s < stream.steps; s++)
      for (let l = 0; l + d < L; l++) {
        const actual = actualSet(stream, s, l + d)
        if (actual.length === 0) continue
        const k = p.predict(s, l + d, s, l, out)
        for (let i = 0; i < actual.length; i++) mark[actual[i]!] = 1
        let h = 0
        for (let i = 0; i < k; i++) h += mark[out[i]!]!
        for (let i = 0; i < actual.length; i++) mark[actual[i]!] = 0
        rec += h / actual.length
        n++
        hit += h
        named += k
      }
    distances.push(d)
    recall.push(r4(n > 0 ? rec / n : 0))
    precision.push(r4(named > 0 ? hit / named : 0))
  }
  return { predictor: name, note: p.note ?? null, distances, recall, precision, fit: fitExponential(distances, recall) }
}

/** Least-squares fit of y = a·e^(−b·x) + c: b on a log grid, a and c by linear regression. */
export function fitExponential(xs: number[], ys: number[]): { a: number; b: number; c: number; rmse: number } | null {
  if (xs.length < 3) return null
  let best: { a: number; b: number; c: number; rmse: number } | null = null
  for (let i = 0; i <= 400; i++) {
    const b = 0.001 * 10 ** (i / 100) // 0.001 … 10
    const pts = xs.map((x, j) => [Math.exp(-b * x), ys[j]!] as [number, number])
    const { m, b: c } = linearRegression(pts)
    const sse = pts.reduce((acc, [u, y]) => acc + (m * u + c - y) ** 2, 0)
    const rmse = Math.sqrt(sse / xs.length)
    if (!best || rmse < best.rmse - 1e-12) best = { a: r4(m), b: r4(b), c: r4(c), rmse: r4(rmse) }
  }
  return best
}
