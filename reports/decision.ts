/**
 * The report's answer to "which policy should I run at my cache size, and by how much?": per
 * (trace, GPU, batch, mode) and cache size, the best deployable policy, its stall (or misses in
 * cache-only runs), how much it saves against on-demand LRU, how far the runner-up is, and the
 * gap to the offline bound (oracle prediction or Belady eviction: not deployable, only a limit).
 * Also notes on policies that did nothing or saturated, read from their own counters.
 */
import type { CellResult } from "../workflows/runCell.ts"

export interface DecisionRow {
  group: string
  cache: string
  /** Sort key of the cache size (slots or bytes). */
  size: number
  metric: "stall" | "misses"
  best: string
  /** Stall seconds (timed) or misses (cache-only) of the best policy. */
  value: number
  /** Stall as a share of total time (timed), or miss ratio (cache-only). */
  share: number
  /** The best policy's value against on-demand LRU's, −0.25 = 25% less; null without an LRU run. */
  vsOnDemand: number | null
  runnerUp: string | null
  /** How much more the runner-up has, +0.04 = 4% more; null when the best ran alone. */
  runnerUpGap: number | null
  /** The offline bound's value, when the sweep ran one. */
  bound: number | null
  /** Share of the best policy's value the bound would still remove, 0.3 = 30%. */
  toBound: number | null
}

export interface PolicyNote {
  policy: string
  note: string
}

/** Not deployable: a limit to measure against (an oracle predictor, or Belady's offline eviction). */
export const isOfflineBound = (spec: string): boolean =>
  /(^|,)cache=belady\b/.test(spec) || /predictor=oracle\b/.test(spec)
/** On-demand LRU: the baseline every paper compares against. */
export const isOnDemandLru = (spec: string): boolean =>
  spec
    .split(",")
    .map((p) => p.trim())
    .filter((p) => !/^(layout|evict|dup|prefill)=/.test(p))
    .join(",") === "cache=lru"

export const groupOf = (r: CellResult): string =>
  `${r.trace} · ${r.mode === "timed" ? r.hardware : "cache-only"}${r.batch_size > 1 ? ` · batch ${r.batch_size}` : ""}`
const sizeOf = (r: CellResult): number => r.cache_bytes ?? r.cache_slots

export function decisionRows(results: CellResult[]): DecisionRow[] {
  const cells = new Map<string, CellResult[]>()
  for (const r of results) {
    const key = `${groupOf(r)}\u0000${r.cache_spec}`
    const list = cells.get(key)
    if (list) list.push(r)
    else cells.set(key, [r])
  }
  const rows: DecisionRow[] = []
  for (const runs of cells.values()) {
    const timed = runs[0]!.mode === "timed"
    const value = (r: CellResult) => (timed ? r.stall_ns / 1e9 : r.misses)
    const deployable = runs.filter((r) => !isOfflineBound(r.policy)).sort((a, b) => value(a) - value(b))
    if (deployable.length === 0) continue
    const best = deployable[0]!
    const lru = runs.find((r) => isOnDemandLru(r.policy))
    const bounds = runs.filter((r) => isOfflineBound(r.policy)).map(value)
    const bound = bounds.length > 0 ? Math.min(...bounds) : null
    const second = deployable[1]
    const rel = (a: number, b: number) => (b > 0 ? a / b - 1 : 0)
    rows.push({
      group: groupOf(best),
      cache: best.cache_spec,
      size: sizeOf(best),
      metric: timed ? "stall" : "misses",
      best: best.policy_label,
      value: value(best),
      share: timed ? best.stall_fraction : best.misses / Math.max(1, best.accesses),
      vsOnDemand: lru ? rel(value(best), value(lru)) : null,
      runnerUp: second ? second.policy_label : null,
      runnerUpGap: second ? rel(value(second), value(best)) : null,
      bound,
      toBound: bound !== null && value(best) > 0 ? (value(best) - bound) / value(best) : null
    })
  }
  return rows.sort((a, b) => a.group.localeCompare(b.group) || a.size - b.size)
}

/**
 * Policies that did nothing or saturated, from their counters over all their timed runs:
 * a prefetcher that issued no prefetch, one whose prefetches were all dropped for want of room,
 * EF-A's S stuck at its cap (L − 1) from start to end, a policy never apart from on-demand LRU.
 */
export function policyNotes(results: CellResult[]): PolicyNote[] {
  const notes: PolicyNote[] = []
  const byPolicy = new Map<string, CellResult[]>()
  for (const r of results.filter((r) => r.mode === "timed")) {
    const list = byPolicy.get(r.policy_label)
    if (list) list.push(r)
    else byPolicy.set(r.policy_label, [r])
  }
  for (const [policy, runs] of byPolicy) {
    const spec = runs[0]!.policy
    const prefetching = /prefetch=(?!none)/.test(spec)
    const issued = runs.reduce((s, r) => s + r.prefetches_issued, 0)
    const dropped = runs.reduce((s, r) => s + r.prefetches_dropped, 0)
    if (prefetching && issued === 0)
      notes.push({
        policy,
        note:
          dropped > 0
            ? `issued no prefetch in ${runs.length} run(s): all ${dropped} it asked for were dropped, no slot could ` +
              "be freed for them"
            : `issued no prefetch in ${runs.length} run(s): every expert it predicted was already resident or ` +
              "on its way"
      })
    else if (prefetching && dropped > issued)
      notes.push({ policy, note: `dropped ${dropped} prefetches for want of room, more than the ${issued} it issued` })
    const S = runs.map((r) => r.policy_detail.S as { min: number; max: number } | undefined)
    if (S.every((s) => s !== undefined)) {
      const capped = runs.filter((r, i) => S[i]!.min === S[i]!.max && S[i]!.max === r.per_layer_hit_rate.length - 1)
      if (capped.length === runs.length)
        notes.push({
          policy,
          note:
            "its horizon S stayed at its cap L − 1 in every run: an expert's transfer takes longer than the " +
            "whole rest of the forward pass, so no horizon hides it"
        })
    }
    const twins = runs.filter((r) => {
      const lru = results.find(
        (o) =>
          isOnDemandLru(o.policy) && groupOf(o) === groupOf(r) && o.cache_spec === r.cache_spec && o.mode === "timed"
      )
      return lru !== undefined && lru !== r && Math.abs(r.stall_ns - lru.stall_ns) <= 0.001 * lru.stall_ns
    })
    if (!isOnDemandLru(spec) && twins.length === runs.length)
      notes.push({ policy, note: "within 0.1% of on-demand LRU's stall in every run: no measurable effect here" })
  }
  return notes
}
