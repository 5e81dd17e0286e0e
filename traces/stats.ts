/**
 * `trace stats`: what a trace looks like to a cache. Definitions follow
 * shared/traces/routing-aggregates/README.md where they overlap:
 * - normalized entropy of per-layer expert popularity (1 = uniform);
 * - top-10% share: activations taken by the most used 10% of experts (Lorenz curve, interpolated);
 * - previous-token reuse: fraction of a token's experts at a layer also used by the previous
 *   token of the same request at that layer (both cells recorded);
 * - transition concentration (adjacent layers, top-1 experts): Σ_e1 max_e2 M[e1][e2] / ΣM, with
 *   the value it would have if the layers were independent (largest column share).
 */
import { buildAccessStream } from "./batching.ts"
import { recordedHitRate } from "./residency.ts"
import { type Accounting, countGaps, requestRanges, type Trace } from "./trace.ts"

export interface TraceStats {
  tokens: number
  requests: number
  layers: number
  experts: number
  top_k: number
  gaps: number
  gap_cells: Array<{ token: number; request: number; position: number; layer: number }>
  per_layer: Array<{ layer: number; entropy: number; top10_share: number; reuse: number | null }>
  mean_entropy: number
  mean_top10_share: number
  mean_reuse: number | null
  transition_top1_share: number | null
  transition_independent_share: number | null
  /** What the recording engine said (route traces): expert sizes, accounting, its own hit rate. */
  engine?: {
    accounting: Accounting
    expert_bytes_min: number
    expert_bytes_max: number
    /** Σ over layers of top-k × that layer's expert bytes: below it, global LRU on layer-cyclic decode hits 0%. */
    one_token_working_set_bytes: number
    /** Hits / lookups by the engine's own verdicts, lookups counted under its accounting (batch 1). */
    recorded_hit_rate: number | null
  }
}

/** Bytes one decode token touches across all layers: the cache must hold it for any reuse to survive. */
export const oneTokenWorkingSet = (bytesOfLayer: ArrayLike<number>, topK: number): number =>
  Array.from(bytesOfLayer).reduce((sum, b) => sum + topK * b, 0)

const r6 = (x: number) => Math.round(x * 1e6) / 1e6

export function popularitySkew(counts: ArrayLike<number>): { entropy: number; top10: number } {
  const E = counts.length
  let total = 0
  for (let i = 0; i < E; i++) total += counts[i]!
  if (total === 0) return { entropy: 0, top10: 0 }
  let h = 0
  for (let i = 0; i < E; i++) {
    const p = counts[i]! / total
    if (p > 0) h -= p * Math.log(p)
  }
  const sorted = Array.from(counts).sort((a, b) => b - a)
  const m = 0.1 * E
  const whole = Math.floor(m)
  let share = 0
  for (let i = 0; i < whole; i++) share += sorted[i]!
  if (whole < E) share += (m - whole) * sorted[whole]!
  return { entropy: E > 1 ? h / Math.log(E) : 1, top10: share / total }
}

export function traceStats(t: Trace): TraceStats {
  const { layers: L, experts: E, topK: K } = t.model
  const counts = new Float64Array(L * E)
  const reuseHit = new Float64Array(L),
    reuseAll = new Float64Array(L)
  const M = new Float64Array(L > 1 ? (L - 1) * E * E : 0)
  for (let i = 0; i < t.tokens; i++) {
    const samePrev = i > 0 && t.request[i - 1] === t.request[i]
    for (let l = 0; l < L; l++) {
      const cell = i * L + l
      if (!t.present[cell]) continue
      for (let k = 0; k < K; k++) counts[l * E + t.experts[cell * K + k]!]!++
      if (samePrev && t.present[cell - L]) {
        for (let k = 0; k < K; k++) {
          const e = t.experts[cell * K + k]!
          for (let j = 0; j < K; j++)
            if (t.experts[(cell - L) * K + j] === e) {
              reuseHit[l]!++
              break
            }
        }
        reuseAll[l]! += K
      }
      if (l + 1 < L && t.present[cell + 1]) M[(l * E + t.experts[cell * K]!) * E + t.experts[(cell + 1) * K]!]!++
    }
  }
  const perLayer = Array.from({ length: L }, (_, l) => {
    const s = popularitySkew(counts.subarray(l * E, (l + 1) * E))
    return {
      layer: l,
      entropy: r6(s.entropy),
      top10_share: r6(s.top10),
      reuse: reuseAll[l]! > 0 ? r6(reuseHit[l]! / reuseAll[l]!) : null
    }
  })
  let top1 = 0,
    indep = 0,
    mTotal = 0
  for (let l = 0; l + 1 < L; l++) {
    const col = new Float64Array(E)
    for (let a = 0; a < E; a++) {
      let best = 0
      for (let b = 0; b < E; b++) {
        const v = M[(l * E + a) * E + b]!
        if (v > best) best = v
        col[b]! += v
        mTotal += v
      }
      top1 += best
    }
    indep += Math.max(...col)
  }
  const gapCells: TraceStats["gap_cells"] = []
  for (let i = 0; i < t.present.length; i++) {
    if (!t.present[i]) {
      const tok = Math.floor(i / L)
      gapCells.push({ token: tok, request: t.request[tok]!, position: t.position[tok]!, layer: i % L })
    }
  }
  const reuseTotal = reuseAll.reduce((a, b) => a + b, 0)
  return {
    tokens: t.tokens,
    requests: requestRanges(t).length,
    layers: L,
    experts: E,
    top_k: K,
    gaps: countGaps(t),
    gap_cells: gapCells.slice(0, 100),
    per_layer: perLayer,
    mean_entropy: r6(perLayer.reduce((a, p) => a + p.entropy, 0) / L),
    mean_top10_share: r6(perLayer.reduce((a, p) => a + p.top10_share, 0) / L),
    mean_reuse: reuseTotal > 0 ? r6(reuseHit.reduce((a, b) => a + b, 0) / reuseTotal) : null,
    transition_top1_share: mTotal > 0 ? r6(top1 / mTotal) : null,
    transition_independent_share: mTotal > 0 ? r6(indep / mTotal) : null,
    ...(t.engine ? { engine: engineStats(t) } : {})
  }
}

function engineStats(t: Trace): NonNullable<TraceStats["engine"]> {
  const e = t.engine!
  const stream = buildAccessStream(t, 1, undefined, { prefill: e.accounting.prefill })
  return {
    accounting: e.accounting,
    expert_bytes_min: Math.min(...e.expertBytes),
    expert_bytes_max: Math.max(...e.expertBytes),
    one_token_working_set_bytes: oneTokenWorkingSet(e.expertBytes, t.model.topK),
    recorded_hit_rate: t.residency ? recordedHitRate(t, stream) : null
  }
}

export function formatStats(s: TraceStats): string {
  const pct = (x: number | null) => (x === null ? "n/a" : `${(x * 100).toFixed(1)}%`)
  const lines = [
    `tokens ${s.tokens}, requests ${s.requests}, layers ${s.layers}, experts ${s.experts}, top-k ${s.top_k}`,
    `gaps: ${s.gaps} (token, layer) cells with no routing recorded` +
      (s.gaps
        ? ` — e.g. ${s.gap_cells
            .slice(0, 5)
            .map((g) => `request ${g.request} token ${g.position} layer ${g.layer}`)
            .join("; ")}`
        : ""),
    `popularity: mean normalized entropy ${s.mean_entropy.toFixed(3)}, mean top-10% share ${pct(s.mean_top10_share)}`,
    `previous-token reuse (mean over layers' accesses): ${pct(s.mean_reuse)}`,
    `transition concentration (top-1, adjacent layers): ${pct(s.transition_top1_share)} vs ` +
      `${pct(s.transition_independent_share)} if independent`,
    "",
    "layer  entropy  top10%  reuse"
  ]
  if (s.engine) {
    const e = s.engine
    const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`
    lines.splice(
      lines.length - 2,
      0,
      `recording engine: expert ${mib(e.expert_bytes_min)}–${mib(e.expert_bytes_max)}; accounting evict=` +
        `${e.accounting.evict} dup=${e.accounting.duplicates} prefill=${e.accounting.prefill}`,
      `  its recorded hit rate: ${pct(e.recorded_hit_rate)} of lookups; one decode token's working set ` +
        `${mib(e.one_token_working_set_bytes)} (below it, global LRU hits nothing on layer-cyclic decode)`
    )
  }
  for (const p of s.per_layer)
    lines.push(
      `${String(p.layer).padStart(5)}  ${p.entropy.toFixed(3).padStart(7)}  ${pct(p.top10_share).padStart(6)}  ` +
        `${pct(p.reuse).padStart(6)}`
    )
  return `${lines.join("\n")}\n`
}
