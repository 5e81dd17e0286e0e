/**
 * `trace compare A B`: the statistics that decide how a trace behaves in a cache, side by side:
 * unified-cache LRU miss-ratio curve, per-layer previous-token reuse, popularity entropy,
 * transition concentration, and the gate weight of each top-k rank.
 */
import { buildAccessStream } from "../traces/batching.ts"
import { traceStats, type TraceStats } from "../traces/stats.ts"
import type { Trace } from "../traces/trace.ts"
import { makeGeometry } from "../policies/cacheGeometry.ts"
import { replayCacheOnly } from "../sim/cacheOnly.ts"
import { makeEviction } from "../policies/registry.ts"

export const MRC_SIZES = Array.from({ length: 16 }, (_, i) => 16 * (i + 1))

/** LRU miss ratio of the unified cache at each size (batch 1, order request → token → layer → expert). */
export function missRatioCurve(t: Trace, sizes = MRC_SIZES): number[] {
  const a = buildAccessStream(t, 1)
  return sizes.map((slots) => {
    const g = makeGeometry(a, { slots: Math.min(slots, a.layers * a.experts) }, false)
    const r = replayCacheOnly(a, g, makeEviction("lru", [], a, g), null)
    return r.misses / Math.max(1, a.accesses)
  })
}

/** Mean gate weight of each rank (1st, 2nd, ... expert as listed). */
export function weightByRank(t: Trace): number[] {
  if (!t.weights) throw new Error("weightByRank: the trace was read without its gate weights")
  const K = t.model.topK,
    sums = new Float64Array(K),
    weights = t.weights
  let n = 0
  for (let cell = 0; cell < t.present.length; cell++) {
    if (!t.present[cell]) continue
    for (let k = 0; k < K; k++) sums[k]! += weights[cell * K + k]!
    n++
  }
  return Array.from(sums, (s) => s / Math.max(1, n))
}

export interface Comparison {
  a: TraceStats & { mrc: number[]; weights: number[] }
  b: TraceStats & { mrc: number[]; weights: number[] }
  sizes: number[]
}

export function compareTraces(a: Trace, b: Trace): Comparison {
  const full = (t: Trace) => ({ ...traceStats(t), mrc: missRatioCurve(t), weights: weightByRank(t) })
  return { a: full(a), b: full(b), sizes: MRC_SIZES }
}

export function formatComparison(c: Comparison, names: [string, string]): string {
  const pct = (x: number | null) => (x === null ? "n/a" : `${(x * 100).toFixed(1)}%`)
  const rows: Array<[string, string, string]> = [
    ["tokens / requests", `${c.a.tokens} / ${c.a.requests}`, `${c.b.tokens} / ${c.b.requests}`],
    ["mean previous-token reuse", pct(c.a.mean_reuse), pct(c.b.mean_reuse)],
    ["mean popularity entropy", c.a.mean_entropy.toFixed(3), c.b.mean_entropy.toFixed(3)],
    ["mean top-10% share", pct(c.a.mean_top10_share), pct(c.b.mean_top10_share)],
    ["transition concentration (top-1)", pct(c.a.transition_top1_share), pct(c.b.transition_top1_share)],
    [
      "gate weight by rank",
      c.a.weights.map((w) => w.toFixed(3)).join(" "),
      c.b.weights.map((w) => w.toFixed(3)).join(" ")
    ],
    ...c.sizes.map((s, i): [string, string, string] => [
      `LRU miss ratio, ${s} slots`,
      pct(c.a.mrc[i]!),
      pct(c.b.mrc[i]!)
    ])
  ]
  const w0 = Math.max(...rows.map((r) => r[0].length)),
    w1 = Math.max(names[0].length, ...rows.map((r) => r[1].length))
  const lines = [`${"".padEnd(w0)}  ${names[0].padEnd(w1)}  ${names[1]}`]
  for (const [k, x, y] of rows) lines.push(`${k.padEnd(w0)}  ${x.padEnd(w1)}  ${y}`)
  lines.push(
    "",
    "per-layer reuse:",
    ...c.a.per_layer.map(
      (p, l) =>
        `  layer ${String(l).padStart(2)}  ${pct(p.reuse).padStart(6)}  ` +
        `${pct(c.b.per_layer[l]?.reuse ?? null).padStart(6)}`
    )
  )
  return `${lines.join("\n")}\n`
}
