/**
 * `trace fit`: generator parameters from a real trace.
 *   - popularity per layer and transitions from the previous layer's first expert: the trace's
 *     counts, lightly smoothed (+0.5), so rare experts stay possible;
 *   - gate weights: the Gamma shape whose sorted, normalized draws give the trace's mean top-1 weight;
 *   - reuse per layer: solved so the generated previous-token reuse matches the trace's (a chance
 *     overlap adds to the reuse picks, so this is found by generating and measuring, 4 rounds);
 *   - affinity per layer: the value among {0, ¼, ½, ¾, 1} whose generated trace gives the
 *     closest LRU miss-ratio curve (the transitions shape the cross-layer part of reuse distance);
 *   - pre-gate lookahead accuracy against distance, fitted a·e^(−b·d)+c, when the trace has it.
 */
import { fitExponential } from "./accuracy.ts"
import { Rng } from "../base/rng.ts"
import { generateTrace } from "../traces/generator.ts"
import type { GeneratorParams } from "../traces/generatorParams.ts"
import { missRatioCurve, weightByRank } from "./compare.ts"
import { traceStats } from "../traces/stats.ts"
import { GAP, requestRanges, type Trace } from "../traces/trace.ts"

export function fitParams(t: Trace, source: string, seed = 1): GeneratorParams {
  const { layers: L, experts: E, topK: K } = t.model
  const pop = Array.from({ length: L }, () => new Float64Array(E).fill(0.5))
  const trans = Array.from({ length: L }, () => Array.from({ length: E }, () => new Float64Array(E).fill(0.5 / E)))
  for (let i = 0; i < t.tokens; i++)
    for (let l = 0; l < L; l++) {
      const cell = i * L + l
      if (!t.present[cell]) continue
      for (let k = 0; k < K; k++) pop[l]![t.experts[cell * K + k]!]!++
      if (l > 0 && t.present[cell - 1]) {
        const first = t.experts[(cell - 1) * K]!
        for (let k = 0; k < K; k++) trans[l]![first]![t.experts[cell * K + k]!]!++
      }
    }
  const stats = traceStats(t)
  const targetReuse = stats.per_layer.map((p) => p.reuse ?? 0)
  const r4 = (x: number) => Math.round(x * 1e4) / 1e4
  const prefill = t.phase ? t.phase.reduce((a, b) => a + b, 0) / t.tokens : 0
  let params: GeneratorParams = {
    model: t.model,
    source,
    layers: Array.from({ length: L }, (_, l) => ({
      popularity: [{ weights: Array.from(pop[l]!, r4) }],
      reuse: 0,
      affinity: 0,
      ...(l > 0 ? { transition: trans[l]!.map((row) => Array.from(row, r4)) } : {})
    })),
    domains: [{ name: "trace", weight: 1 }],
    weightShape: fitWeightShape(weightByRank(t)[0]!, K, seed),
    prefillFraction: Math.round(prefill * 1000) / 1000,
    ...lookaheadFit(t)
  }
  const opts = { tokens: t.tokens, requests: requestRanges(t).length, seed }
  // Reuse: start from zero, then correct each layer by the gap between target and generated reuse.
  for (let round = 0; round < 4; round++) {
    const got = traceStats(generateTrace(params, opts)).per_layer.map((p) => p.reuse ?? 0)
    params = {
      ...params,
      layers: params.layers.map((layer, l) => ({
        ...layer,
        reuse: r4(
          Math.min(
            0.95,
            Math.max(0, layer.reuse + (targetReuse[l]! - got[l]!) / Math.max(0.05, 1 - got[l]! + layer.reuse))
          )
        )
      }))
    }
  }
  // Affinity: the value whose LRU miss-ratio curve is closest to the trace's.
  const real = missRatioCurve(t)
  let best = params,
    bestErr = Infinity
  for (const affinity of [0, 0.25, 0.5, 0.75, 1]) {
    const candidate = { ...params, layers: params.layers.map((layer) => ({ ...layer, affinity })) }
    const mrc = missRatioCurve(generateTrace(candidate, opts))
    const err = Math.max(...mrc.map((m, i) => Math.abs(m - real[i]!)))
    if (err < bestErr) {
      bestErr = err
      best = candidate
    }
  }
  return best
}

/** The Gamma shape whose sorted, normalized K draws have mean largest share `target`. */
function fitWeightShape(target: number, K: number, seed: number): number {
  if (K === 1) return 1
  const meanTop = (shape: number) => {
    const rng = new Rng(seed)
    let s = 0
    for (let i = 0; i < 4000; i++) {
      const xs = Array.from({ length: K }, () => gammaDraw(rng, shape))
      s += Math.max(...xs) / xs.reduce((a, b) => a + b, 0)
    }
    return s / 4000
  }
  let lo = 0.05,
    hi = 50
  for (let i = 0; i < 30; i++) {
    const mid = Math.sqrt(lo * hi)
    if (meanTop(mid) > target) lo = mid
    else hi = mid
  }
  return Math.round(Math.sqrt(lo * hi) * 1000) / 1000
}

function gammaDraw(rng: Rng, shape: number): number {
  if (shape < 1) return gammaDraw(rng, shape + 1) * (rng.float() || 1e-12) ** (1 / shape)
  const d = shape - 1 / 3,
    c = 1 / Math.sqrt(9 * d)
  for (;;) {
    const u1 = rng.float() || 1e-12,
      u2 = rng.float()
    const x = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2)
    let v = 1 + c * x
    if (v <= 0) continue
    v = v * v * v
    if (Math.log(rng.float() || 1e-12) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v
  }
}

function lookaheadFit(t: Trace): { lookahead?: { depth: number; a: number; b: number; c: number } } {
  if (!t.lookahead || t.lookaheadDepth === 0) return {}
  const { layers: L, topK: K } = t.model,
    D = t.lookaheadDepth
  const acc: number[] = []
  for (let d = 1; d <= D; d++) {
    let hit = 0,
      n = 0
    for (let i = 0; i < t.tokens; i++)
      for (let l = 0; l + d < L; l++) {
        const truth = new Set(Array.from(t.experts.subarray((i * L + l + d) * K, (i * L + l + d + 1) * K)))
        for (let k = 0; k < K; k++) {
          const e = t.lookahead[((i * L + l) * D + d - 1) * K + k]!
          if (e === GAP) continue
          n++
          if (truth.has(e)) hit++
        }
      }
    acc.push(n ? hit / n : 0)
  }
  const f = fitExponential(
    acc.map((_, i) => i + 1),
    acc
  )
  return f ? { lookahead: { depth: D, a: f.a, b: f.b, c: f.c } } : {}
}
