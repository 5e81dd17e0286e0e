/**
 * The result record: one JSON object per run, the regression contract (DESIGN.md). Field names
 * are snake_case; the record holds no wall-clock data, so identical inputs give identical bytes.
 */
export interface ResultRecord {
  tool: "expertflow"
  version: string
  trace: string
  model: string
  hardware: string
  policy: string
  mode: "cache-only" | "timed"
  seed: number
  batch_size: number
  cache_slots: number
  cache_layout: "unified" | "per-layer"
  expert_bytes: number
  predictor_training: string | null
  steps: number
  tokens: number
  unknown_token_layers: number
  accesses: number
  hits: number
  late_hits: number
  misses: number
  hit_rate: number
  per_layer_hit_rate: number[]
  total_ns: number
  compute_ns: number
  stall_ns: number
  /** Host time charged on the compute stream (token scheduler), part of total. */
  host_ns: number
  stall_fraction: number
  bytes_h2d: number
  transfers_h2d: number
  demand_loads: number
  link_utilization: number
  tokens_per_s: number
  peak_expert_bytes: number
  prefetches_issued: number
  prefetches_used: number
  prefetches_wasted: number
  prefetches_dropped: number
  prefetch_precision: number | null
  prefetch_recall: number | null
  prediction_precision: number | null
  prediction_recall: number | null
  b_acc: number | null
  /** Policy-specific state: S over time (adaptive), predictor notes, scheduler statistics, pins. */
  policy_detail: PolicyDetail
  /** The expert cache's byte budget, when the run was given one (--cache-bytes, a sweep's cacheBytes). */
  cache_bytes?: number
  /**
   * Bytes one decode token touches across all layers (Σ top-k × expert bytes), beside cache_bytes:
   * below it a global LRU on layer-cyclic access keeps nothing for the next token.
   */
  working_set_bytes?: number
  /** Cache accounting, when not the default (insert / first / chunk): traces/trace.ts Accounting. */
  accounting?: { evict: string; duplicates: string; prefill: string }
  /**
   * Agreement with the verdicts the recording engine wrote (route traces): rows (token, layer,
   * rank) whose simulated residency equals the engine's, the recorded hit rate over the same
   * lookups, and the first rows that differ (all of them with --explain).
   */
  recorded_residency?: {
    rows: number
    agreeing_rows: number
    agreement: number
    recorded_hit_rate: number
    differing: Array<{
      token: number
      request: number
      position: number
      layer: number
      rank: number
      expert: number
      recorded: number
      simulated: number
    }>
  }
  /** Present on records measured on hardware (validate): which executor, host overhead. */
  executor?: { kind: "cuda" | "virtual"; host_ns_per_expert_op: number; host_buffers: number; device: number }
}

export type PolicyDetail = Record<string, unknown> & {
  predictor_note?: string
  order?: string
  scheduler?: Record<string, unknown>
  pinned?: Array<{ from_step: number; experts: number }>
}

/** The inputs that identify a run. */
export type RunIdentity = Pick<
  ResultRecord,
  | "tool"
  | "version"
  | "trace"
  | "model"
  | "hardware"
  | "policy"
  | "mode"
  | "seed"
  | "batch_size"
  | "cache_slots"
  | "cache_layout"
  | "expert_bytes"
>

/** Fractions are rounded to 1e-9 so the JSON stays readable; counts and ns are exact integers. */
export const frac = (num: number, den: number): number | null => (den > 0 ? Math.round((num / den) * 1e9) / 1e9 : null)
export const frac0 = (num: number, den: number): number => frac(num, den) ?? 0

const formatMiB = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`

export function formatTable(r: ResultRecord): string {
  const pct = (x: number | null) => (x === null ? "n/a" : `${(x * 100).toFixed(2)}%`)
  const ms = (ns: number) => `${(ns / 1e6).toFixed(3)} ms`
  const rows: Array<[string, string]> = [
    ["trace", r.trace],
    ["model / hardware", `${r.model} / ${r.hardware}`],
    ["policy", r.policy],
    [
      "mode",
      `${r.mode}, batch ${r.batch_size}, ` +
        (r.cache_bytes !== undefined ? `${formatMiB(r.cache_bytes)} of experts` : `${r.cache_slots} slots`) +
        ` (${r.cache_layout})` +
        (r.accounting
          ? `, evict=${r.accounting.evict} dup=${r.accounting.duplicates} prefill=${r.accounting.prefill}`
          : "")
    ],
    [
      "steps / tokens",
      `${r.steps} / ${r.tokens}` +
        (r.unknown_token_layers ? ` (${r.unknown_token_layers} unknown token-layers skipped)` : "")
    ],
    ["accesses", String(r.accesses)],
    ["hits / late / misses", `${r.hits} / ${r.late_hits} / ${r.misses}  (hit rate ${pct(r.hit_rate)})`]
  ]
  if (r.mode === "timed") {
    rows.push(
      ["total time", ms(r.total_ns)],
      ["compute", ms(r.compute_ns)],
      ["stall", `${ms(r.stall_ns)} (${pct(r.stall_fraction)} of total)`],
      [
        "H2D",
        `${(r.bytes_h2d / 2 ** 30).toFixed(2)} GiB in ${r.transfers_h2d} transfers, link ` +
          `${pct(r.link_utilization)} busy`
      ],
      ["throughput", `${r.tokens_per_s.toFixed(1)} tokens/s`],
      [
        "prefetch",
        `${r.prefetches_issued} issued, ${r.prefetches_used} used, ${r.prefetches_wasted} wasted (precision ` +
          `${pct(r.prefetch_precision)}, recall ${pct(r.prefetch_recall)})`
      ],
      [
        "prediction",
        `precision ${pct(r.prediction_precision)}, recall ${pct(r.prediction_recall)}, B_acc ${pct(r.b_acc)}`
      ]
    )
  }
  const rr = r.recorded_residency
  if (rr) {
    rows.push([
      "recorded verdicts",
      `engine hit rate ${pct(rr.recorded_hit_rate)}; simulated residency agrees on ${rr.agreeing_rows} of ` +
        `${rr.rows} rows (${pct(rr.agreement)})`
    ])
    for (const d of rr.differing)
      rows.push([
        "  differs",
        `request ${d.request} position ${d.position} layer ${d.layer} rank ${d.rank} expert ${d.expert}: ` +
          `engine ${d.recorded ? "resident" : "absent"}, simulated ${d.simulated ? "resident" : "absent"}`
      ])
  }
  const w = Math.max(...rows.map(([k]) => k.length))
  return `${rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join("\n")}\n`
}
