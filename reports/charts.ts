/**
 * Charts of a set of result records, as vega-lite specs rendered to SVG on the server (no browser,
 * no network, byte-identical across runs). Each chart says how many marks it draws, so a browser
 * test can check the page shows them all.
 */
import * as vega from "vega"
import { compile, type TopLevelSpec } from "vega-lite"
import type { CellResult } from "../workflows/runCell.ts"

export interface Chart {
  id: string
  title: string
  caption: string
  svg: string
  marks: number
  markSelector: string
}

const isBound = (r: CellResult) => /belady/.test(r.policy) && /oracle/.test(r.policy)
const panel = (r: CellResult) => `${r.trace} · ${r.hardware}`
const font = {
  config: {
    font: "Helvetica, Arial, sans-serif",
    view: { stroke: "#ddd" },
    axis: { labelFontSize: 10, titleFontSize: 11 },
    legend: { labelFontSize: 10, titleFontSize: 11, labelLimit: 260 }
  }
}

async function render(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none" })
  const svg = await view.toSVG()
  view.finalize()
  return svg
}

export async function charts(results: CellResult[]): Promise<Chart[]> {
  const timed = results.filter((r) => r.mode === "timed")
  const out: Chart[] = []
  const rows = timed.map((r) => ({
    panel: panel(r),
    policy: r.policy_label,
    cache: r.cache_slots,
    cacheLabel: r.cache_spec,
    bound: isBound(r),
    bar: `${r.policy_label} · ${r.cache_slots} slots`,
    stall_s: r.stall_ns / 1e9,
    stall_fraction: r.stall_fraction,
    hit_rate: r.hit_rate,
    tokens_per_s: r.tokens_per_s,
    precision: r.prefetch_precision,
    recall: r.prefetch_recall
  }))
  const panels = [...new Set(rows.map((r) => r.panel))]
  const policies = [...new Set(rows.map((r) => r.policy))]
  const bars = [...new Set(rows.map((r) => r.bar))].sort((a, b) => {
    const pa = policies.indexOf(a.split(" · ")[0]!),
      pb = policies.indexOf(b.split(" · ")[0]!)
    return pa - pb || parseInt(a.split(" · ")[1]!, 10) - parseInt(b.split(" · ")[1]!, 10)
  })
  const cols = Math.min(2, panels.length)
  const facet = {
    facet: { field: "panel", type: "nominal" as const, title: null },
    columns: cols,
    resolve: { scale: { x: "independent" as const, y: "independent" as const } }
  }
  const color = {
    field: "policy",
    type: "nominal" as const,
    title: "policy",
    sort: policies,
    scale: { scheme: "tableau10" }
  }

  if (rows.length > 0) {
    out.push({
      id: "fig-stall",
      title: "Stall time by policy",
      caption:
        "Seconds the compute stream waited for expert weights, per policy and cache size (one bar per run). " +
        "Shorter is better; each panel is one trace on one GPU profile, on its own scale.",
      markSelector: ".mark-rect.role-mark path",
      marks: rows.length,
      svg: await render({
        ...font,
        data: { values: rows },
        ...facet,
        resolve: { scale: { x: "independent", y: "independent" } },
        spec: {
          width: 280,
          height: { step: 11 },
          mark: { type: "bar" },
          encoding: {
            y: { field: "bar", type: "nominal", sort: bars, title: null, axis: { labelFontSize: 9, labelLimit: 220 } },
            x: { field: "stall_s", type: "quantitative", title: "stall (s)" },
            color: { field: "policy", type: "nominal", sort: policies, title: "policy", scale: { scheme: "tableau10" } }
          }
        }
      } as TopLevelSpec)
    })
    const lineChart = async (
      id: string,
      title: string,
      field: string,
      axis: string,
      caption: string
    ): Promise<Chart> => {
      const series = new Set(rows.map((r) => `${r.panel}|${r.policy}`)).size
      return {
        id,
        title,
        caption,
        markSelector: ".mark-line.role-mark path",
        marks: series,
        svg: await render({
          ...font,
          data: { values: rows },
          ...facet,
          spec: {
            width: 300,
            height: 200,
            layer: [
              {
                mark: { type: "line", point: false },
                encoding: {
                  x: { field: "cache", type: "quantitative", title: "expert slots on the GPU" },
                  y: { field, type: "quantitative", title: axis, axis: { format: "%" } },
                  color,
                  strokeDash: {
                    field: "bound",
                    type: "nominal",
                    title: "offline bound",
                    scale: {
                      domain: [false, true],
                      range: [
                        [1, 0],
                        [5, 3]
                      ]
                    }
                  },
                  size: { condition: { test: "datum.bound", value: 3 }, value: 1.5 }
                }
              },
              {
                mark: { type: "point", filled: true, size: 25 },
                encoding: { x: { field: "cache", type: "quantitative" }, y: { field, type: "quantitative" }, color }
              }
            ]
          }
        } as TopLevelSpec)
      }
    }
    out.push(
      await lineChart(
        "fig-stall-cache",
        "Stall fraction against cache size",
        "stall_fraction",
        "stall / total time",
        "Share of the run spent waiting for experts as the GPU holds more of them. The dashed heavy line is the " +
          "offline bound (oracle prefetch with Belady eviction): the gap to it is what a better policy could still win."
      )
    )
    out.push(
      await lineChart(
        "fig-hit-cache",
        "Hit rate against cache size",
        "hit_rate",
        "hit rate (resident at the gate)",
        "Experts already resident when their layer's gate runs, per access. Prefetched experts still in flight " +
          "count as late hits, not hits."
      )
    )
    out.push({
      id: "fig-throughput",
      title: "Throughput",
      caption: "Tokens per second of simulated time, per policy and cache size (one bar per run). Longer is better.",
      markSelector: ".mark-rect.role-mark path",
      marks: rows.length,
      svg: await render({
        ...font,
        data: { values: rows },
        ...facet,
        resolve: { scale: { x: "independent", y: "independent" } },
        spec: {
          width: 280,
          height: { step: 11 },
          mark: "bar",
          encoding: {
            y: { field: "bar", type: "nominal", sort: bars, title: null, axis: { labelFontSize: 9, labelLimit: 220 } },
            x: { field: "tokens_per_s", type: "quantitative", title: "tokens/s" },
            color: { field: "policy", type: "nominal", sort: policies, title: "policy", scale: { scheme: "tableau10" } }
          }
        }
      } as TopLevelSpec)
    })
  }
  const pf = rows.filter((r) => r.precision !== null && r.recall !== null)
  if (pf.length > 0) {
    out.push({
      id: "fig-prefetch",
      title: "Prefetch precision and recall",
      caption:
        "Each point is one run with prefetching: precision = prefetched experts that were used / prefetches " +
        "issued; recall = uses served by a prefetch / (those + demand misses). Up and right is better.",
      markSelector: ".mark-symbol.role-mark path",
      marks: pf.length,
      svg: await render({
        ...font,
        data: { values: pf },
        ...facet,
        spec: {
          width: 260,
          height: 220,
          mark: { type: "point", filled: true, size: 60 },
          encoding: {
            x: { field: "recall", type: "quantitative", scale: { domain: [0, 1] }, axis: { format: "%" } },
            y: { field: "precision", type: "quantitative", scale: { domain: [0, 1] }, axis: { format: "%" } },
            color,
            shape: { field: "cacheLabel", type: "nominal", title: "cache size" }
          }
        }
      } as TopLevelSpec)
    })
  }
  // S over time for adaptive runs: one line per run, as a step function over (step, layer) gates.
  const sRows: Array<{ run: string; gate: number; S: number }> = []
  let sRuns = 0
  for (const r of timed) {
    const S = r.policy_detail.S as { changes: Array<[number, number, number]> } | undefined
    if (!S) continue
    sRuns++
    const layers = r.per_layer_hit_rate.length
    const run = `${r.policy_label} · ${r.trace} · ${r.hardware} · ${r.cache_spec}`
    for (const [s, l, v] of S.changes) sRows.push({ run, gate: s * layers + l, S: v })
    sRows.push({ run, gate: r.steps * layers, S: S.changes.at(-1)![2] })
  }
  if (sRuns > 0) {
    out.push({
      id: "fig-s",
      title: "Prefetch step S over time (adaptive policies)",
      caption:
        "EF-A's adaptive horizon S at each layer gate (step × layers + layer). " +
        "It starts from ⌈N_e·E_s/(C_s·T_l)⌉ " +
        "and moves with the stall and over-prefetch counters; it is capped at L − 1.",
      markSelector: ".mark-line.role-mark path",
      marks: sRuns,
      svg: await render({
        ...font,
        data: { values: sRows },
        width: 640,
        height: 220,
        mark: { type: "line", interpolate: "step-after" },
        encoding: {
          x: { field: "gate", type: "quantitative", title: "layer gate (step × L + layer)" },
          y: { field: "S", type: "quantitative", title: "S (layers ahead)" },
          color: { field: "run", type: "nominal", title: "run", legend: { labelLimit: 420 } }
        }
      } as TopLevelSpec)
    })
  }
  // Per-layer hit rate heat map: for each trace, the runs at its middle cache size on its first GPU.
  const heat: Array<{ trace: string; policy: string; layer: number; hit: number }> = []
  for (const trace of [...new Set(timed.map((r) => r.trace))]) {
    const mine = timed.filter((r) => r.trace === trace)
    const hw = mine[0]!.hardware
    const sizes = [...new Set(mine.map((r) => r.cache_slots))].sort((a, b) => a - b)
    const mid = sizes[Math.floor(sizes.length / 2)]!
    for (const r of mine.filter((r) => r.hardware === hw && r.cache_slots === mid)) {
      r.per_layer_hit_rate.forEach((hit, layer) => {
        heat.push({ trace: `${trace} · ${hw} · ${mid} slots`, policy: r.policy_label, layer, hit })
      })
    }
  }
  if (heat.length > 0) {
    out.push({
      id: "fig-heat",
      title: "Hit rate per layer",
      caption:
        "Hit rate of every layer (columns) for each policy (rows), at each trace's middle cache size. Bright = " +
        "most accesses hit; dark cells show layers a policy serves badly.",
      markSelector: ".mark-rect.role-mark path",
      marks: heat.length,
      svg: await render({
        ...font,
        data: { values: heat },
        facet: {
          row: {
            field: "trace",
            type: "nominal",
            title: null,
            header: { labelAngle: 0, labelOrient: "top", labelAnchor: "start", labelFontWeight: "bold" }
          }
        },
        resolve: { scale: { x: "independent" } },
        spec: {
          width: 560,
          height: Math.max(60, policies.length * 18),
          mark: "rect",
          encoding: {
            x: { field: "layer", type: "ordinal", title: "layer" },
            y: { field: "policy", type: "nominal", sort: policies, title: null },
            color: {
              field: "hit",
              type: "quantitative",
              title: "hit rate",
              scale: { scheme: "viridis", domain: [0, 1] }
            }
          }
        }
      } as TopLevelSpec)
    })
  }
  out.push(...(await byteBudgetCharts(results)))
  return out
}

/**
 * Runs given a byte budget (--cache-bytes, a sweep's cacheBytes): hit rate (and stall, when timed)
 * against the budget, with one decode token's working set marked: below that line a global LRU
 * keeps nothing from one token to the next on layer-cyclic access, and its hit rate falls to 0.
 */
async function byteBudgetCharts(results: CellResult[]): Promise<Chart[]> {
  const sized = results.filter((r) => r.cache_bytes !== undefined && r.working_set_bytes !== undefined)
  if (sized.length === 0) return []
  const MiB = 2 ** 20
  const rows = sized.map((r) => ({
    panel: `${r.trace} · ${r.mode === "timed" ? r.hardware : "cache-only"}`,
    policy: r.policy_label,
    mib: r.cache_bytes! / MiB,
    hit_rate: r.hit_rate,
    stall_s: r.stall_ns / 1e9,
    timed: r.mode === "timed",
    working_set_mib: r.working_set_bytes! / MiB
  }))
  const policies = [...new Set(rows.map((r) => r.policy))]
  const panels = [...new Set(rows.map((r) => r.panel))]
  const chart = async (
    id: string,
    title: string,
    field: string,
    axis: string,
    values: typeof rows
  ): Promise<Chart> => ({
    id,
    title,
    caption:
      `${title} for runs given a byte budget. The dashed line is one decode token's working set (top-k experts ` +
      "of every layer): below it a global LRU on layer-cyclic access keeps nothing for the next token.",
    markSelector: ".mark-line.role-mark path",
    marks: new Set(values.map((r) => `${r.panel}|${r.policy}`)).size,
    svg: await render({
      ...font,
      data: { values },
      facet: { field: "panel", type: "nominal", title: null },
      columns: Math.min(2, panels.length),
      resolve: { scale: { x: "independent", y: "independent" } },
      spec: {
        width: 320,
        height: 200,
        layer: [
          {
            mark: { type: "line", point: true },
            encoding: {
              x: { field: "mib", type: "quantitative", title: "expert cache (MiB)" },
              y: { field, type: "quantitative", title: axis },
              color: {
                field: "policy",
                type: "nominal",
                sort: policies,
                title: "policy",
                scale: { scheme: "tableau10" }
              }
            }
          },
          {
            mark: { type: "rule", strokeDash: [4, 3], color: "#555" },
            encoding: { x: { aggregate: "min", field: "working_set_mib", type: "quantitative" } }
          }
        ]
      }
    } as TopLevelSpec)
  })
  const out = [await chart("fig-bytes-hit", "Hit rate against cache bytes", "hit_rate", "hit rate", rows)]
  const timed = rows.filter((r) => r.timed)
  if (timed.length > 0)
    out.push(await chart("fig-bytes-stall", "Stall against cache bytes", "stall_s", "stall (s)", timed))
  return out
}
