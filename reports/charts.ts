/**
 * Charts of a set of result records, as vega-lite specs rendered to SVG on the server (no browser,
 * no network, byte-identical across runs). Each chart says how many marks it draws, so a browser
 * test can check the page shows them all.
 *
 * One colour per policy in every chart (one palette, fixed from the policies' order); small
 * multiples instead of overlapping lines; stall relative to on-demand LRU beside absolute
 * seconds, so a 1% difference is visible; SVGs scale to the page (viewBox), labels are never cut.
 */
import type { TopLevelSpec } from "vega-lite"
import type { CellResult } from "../workflows/runCell.ts"
import { importModule } from "../base/importModule.ts"
import { groupOf, isOfflineBound, isOnDemandLru } from "./decision.ts"

export interface Chart {
  id: string
  title: string
  caption: string
  svg: string
  marks: number
  markSelector: string
}

/** Tableau 20's strong and light halves: enough distinct colours for 20 policies. */
const COLOURS = [
  "#4e79a7",
  "#f28e2b",
  "#e15759",
  "#76b7b2",
  "#59a14f",
  "#edc948",
  "#b07aa1",
  "#ff9da7",
  "#9c755f",
  "#bab0ac",
  "#a0cbe8",
  "#ffbe7d",
  "#ff9d9a",
  "#86bcb6",
  "#8cd17d",
  "#f1ce63",
  "#d4a6c8",
  "#fabfd2",
  "#d7b5a6",
  "#79706e"
]

const config = {
  config: {
    font: "Helvetica, Arial, sans-serif",
    view: { stroke: "#ddd" },
    axis: { labelFontSize: 10, titleFontSize: 11, labelLimit: 0 },
    legend: { labelFontSize: 10, titleFontSize: 11, labelLimit: 0, orient: "bottom", columns: 2 },
    header: { labelFontSize: 11, labelLimit: 0, titleFontSize: 11 },
    facet: { spacing: 14 }
  }
}

/** Row facets: the row's name level, right-aligned against its panels, never cut. */
const rowHeader = { labelAngle: 0, labelAlign: "right", labelFontWeight: "bold" }

async function render(spec: TopLevelSpec): Promise<string> {
  // Loaded on first use: only a report draws charts, and every other command starts faster.
  const [vega, { compile }] = await Promise.all([
    importModule("vega", () => import("vega")),
    importModule("vega-lite", () => import("vega-lite"))
  ])
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none" })
  const svg = await view.toSVG()
  view.finalize()
  // Scale with the page: the drawing keeps its proportions and shrinks to fit, never clipped.
  return svg.replace(
    /^<svg([^>]*?) width="([\d.]+)" height="([\d.]+)"/,
    (_m, rest: string, w: string, h: string) =>
      `<svg${rest} width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" style="max-width:100%;height:auto"`
  )
}

export async function charts(results: CellResult[]): Promise<Chart[]> {
  const policies = [...new Set(results.map((r) => r.policy_label))]
  const color = {
    field: "policy",
    type: "nominal" as const,
    title: "policy",
    scale: { domain: policies, range: policies.map((_, i) => COLOURS[i % COLOURS.length]!) }
  }
  const timed = results.filter((r) => r.mode === "timed")
  const sizes = [...new Set(results.map((r) => r.cache_spec))].sort(
    (a, b) => sizeOfLabel(results, a) - sizeOfLabel(results, b)
  )
  const out: Chart[] = []
  if (timed.length > 0) out.push(...(await stallCharts(timed, policies, sizes, color)))
  if (timed.length > 0) out.push(...(await curveCharts(timed, policies, color)))
  out.push(...(await prefetchChart(timed, color)))
  out.push(...(await horizonChart(timed, color)))
  out.push(...(await heatChart(timed, policies)))
  out.push(...(await byteBudgetCharts(results, color)))
  return out
}

const sizeOfLabel = (results: CellResult[], label: string): number => {
  const r = results.find((x) => x.cache_spec === label)!
  return r.cache_bytes ?? r.cache_slots
}

type Color = { field: string; type: "nominal"; title: string; scale: { domain: string[]; range: string[] } }

/** Stall against on-demand LRU (a dot per policy, 100% = LRU), then absolute seconds and throughput. */
async function stallCharts(timed: CellResult[], policies: string[], sizes: string[], color: Color): Promise<Chart[]> {
  const lruOf = (r: CellResult) =>
    timed.find((o) => isOnDemandLru(o.policy) && groupOf(o) === groupOf(r) && o.cache_spec === r.cache_spec)
  const rows = timed.map((r) => {
    const lru = lruOf(r)
    return {
      group: groupOf(r),
      cache: r.cache_spec,
      policy: r.policy_label,
      stall_s: r.stall_ns / 1e9,
      tokens_per_s: r.tokens_per_s,
      relative: lru && lru.stall_ns > 0 ? r.stall_ns / lru.stall_ns : null
    }
  })
  const facet = {
    facet: {
      row: { field: "group", type: "nominal" as const, title: null, header: rowHeader },
      column: { field: "cache", type: "nominal" as const, title: null, sort: sizes }
    },
    resolve: { scale: { x: "independent" as const } }
  }
  const y = { field: "policy", type: "nominal" as const, sort: policies, title: null }
  const height = policies.length * 16
  const out: Chart[] = []
  const rel = rows.filter((r) => r.relative !== null)
  if (rel.length > 0)
    out.push({
      id: "fig-relative",
      title: "Stall against on-demand LRU",
      caption:
        "Each policy's stall as a share of on-demand LRU's in the same run setting (the line at 100%). Left of " +
        "the line is better; the axis is zoomed to the values, so a 1% difference shows. Rows: trace · GPU; " +
        "columns: cache size.",
      markSelector: ".policy_dot_marks path",
      marks: rel.length,
      svg: await render({
        ...config,
        data: { values: rel },
        ...facet,
        spec: {
          width: 170,
          height,
          layer: [
            {
              name: "policy_dot",
              mark: { type: "point", filled: true, size: 70 },
              encoding: {
                y,
                x: {
                  field: "relative",
                  type: "quantitative",
                  title: "stall / on-demand LRU",
                  scale: { zero: false, padding: 8 },
                  axis: { format: "%", tickCount: 4 }
                },
                color
              }
            },
            { mark: { type: "rule", color: "#888", strokeDash: [3, 3] }, encoding: { x: { datum: 1 } } }
          ]
        }
      } as TopLevelSpec)
    })
  for (const [id, field, title, axis, caption] of [
    [
      "fig-stall",
      "stall_s",
      "Stall time by policy",
      "stall (s)",
      "Seconds the compute stream waited for expert weights. Shorter is better. Rows: trace · GPU; columns: cache size."
    ],
    [
      "fig-throughput",
      "tokens_per_s",
      "Throughput",
      "tokens/s",
      "Tokens per second of simulated time. Longer is better. Rows: trace · GPU; columns: cache size."
    ]
  ] as const)
    out.push({
      id,
      title,
      caption,
      markSelector: ".mark-rect.role-mark path",
      marks: rows.length,
      svg: await render({
        ...config,
        data: { values: rows },
        ...facet,
        spec: {
          width: 170,
          height,
          mark: "bar",
          encoding: { y, x: { field, type: "quantitative", title: axis, axis: { tickCount: 4 } }, color }
        }
      } as TopLevelSpec)
    })
  return out
}

/**
 * Stall fraction and hit rate against cache size as small multiples: one panel per policy (its
 * colour), with on-demand LRU (grey) and the offline bound (dashed) drawn in every panel.
 */
async function curveCharts(timed: CellResult[], policies: string[], color: Color): Promise<Chart[]> {
  const refOf = (r: CellResult, pick: (o: CellResult) => boolean, f: (o: CellResult) => number) => {
    const o = timed.filter((x) => pick(x) && groupOf(x) === groupOf(r) && x.cache_spec === r.cache_spec).map(f)
    return o.length > 0 ? Math.min(...o) : null
  }
  const chart = async (id: string, title: string, f: (r: CellResult) => number, axis: string, caption: string) => {
    const deployed = policies.filter((p) => !isOfflineBound(timed.find((r) => r.policy_label === p)?.policy ?? ""))
    const rows = timed
      .filter((r) => deployed.includes(r.policy_label))
      .map((r) => ({
        group: groupOf(r),
        policy: r.policy_label,
        cache: r.cache_bytes !== undefined ? r.cache_bytes / 2 ** 20 : r.cache_slots,
        value: f(r),
        lru: refOf(r, (o) => isOnDemandLru(o.policy), f),
        bound: refOf(r, (o) => isOfflineBound(o.policy), f)
      }))
    const x = { field: "cache", type: "quantitative" as const, title: "cache size", axis: { tickCount: 3 } }
    return {
      id,
      title,
      caption,
      markSelector: ".mark-line.policy_line_marks path",
      marks: new Set(rows.map((r) => `${r.group}|${r.policy}`)).size,
      svg: await render({
        ...config,
        data: { values: rows },
        facet: {
          row: { field: "group", type: "nominal", title: null, header: rowHeader },
          column: { field: "policy", type: "nominal", title: null, sort: deployed }
        },
        resolve: { scale: { x: "independent" } },
        spec: {
          width: 120,
          height: 90,
          layer: [
            {
              mark: { type: "line", color: "#bbb", strokeWidth: 1.5, strokeCap: "round" },
              encoding: { x, y: { field: "lru", type: "quantitative" } }
            },
            {
              mark: { type: "line", color: "#777", strokeDash: [4, 3], strokeWidth: 1.2 },
              encoding: { x, y: { field: "bound", type: "quantitative" } }
            },
            {
              name: "policy_line",
              mark: { type: "line", point: true, strokeWidth: 2 },
              encoding: {
                x,
                y: { field: "value", type: "quantitative", title: axis, axis: { format: "%", tickCount: 4 } },
                color: { ...color, legend: null }
              }
            }
          ]
        }
      } as TopLevelSpec)
    }
  }
  return [
    await chart(
      "fig-stall-cache",
      "Stall fraction against cache size",
      (r) => r.stall_fraction,
      "stall / total",
      "One panel per policy: its share of time spent waiting for experts (colour), on-demand LRU (grey) and the " +
        "offline bound (dashed, oracle prediction or Belady eviction). The gap to the dashed line is what a better " +
        "policy could still win."
    ),
    await chart(
      "fig-hit-cache",
      "Hit rate against cache size",
      (r) => r.hit_rate,
      "hit rate",
      "One panel per policy: experts resident when their layer's gate runs (colour), against on-demand LRU (grey) " +
        "and the offline bound (dashed). Prefetched experts still in flight count as late hits, not hits."
    )
  ]
}

async function prefetchChart(timed: CellResult[], color: Color): Promise<Chart[]> {
  const pf = timed
    .filter((r) => r.prefetch_precision !== null && r.prefetch_recall !== null)
    .map((r) => ({
      group: groupOf(r),
      policy: r.policy_label,
      cache: r.cache_spec,
      precision: r.prefetch_precision,
      recall: r.prefetch_recall
    }))
  if (pf.length === 0) return []
  return [
    {
      id: "fig-prefetch",
      title: "Prefetch precision and recall",
      caption:
        "Each point is one run with prefetching: precision = prefetched experts that were used / prefetches " +
        "issued; recall = uses served by a prefetch / (those + demand misses). Up and right is better.",
      markSelector: ".mark-symbol.role-mark path",
      marks: pf.length,
      svg: await render({
        ...config,
        data: { values: pf },
        facet: { field: "group", type: "nominal", title: null },
        columns: 2,
        spec: {
          width: 240,
          height: 200,
          mark: { type: "point", filled: true, size: 60 },
          encoding: {
            x: { field: "recall", type: "quantitative", scale: { domain: [0, 1] }, axis: { format: "%" } },
            y: { field: "precision", type: "quantitative", scale: { domain: [0, 1] }, axis: { format: "%" } },
            color,
            shape: { field: "cache", type: "nominal", title: "cache size" }
          }
        }
      } as TopLevelSpec)
    }
  ]
}

/** EF-A's S over time: one line per adaptive run, as a step function over (step, layer) gates. */
async function horizonChart(timed: CellResult[], color: Color): Promise<Chart[]> {
  const rows: Array<{ run: string; policy: string; gate: number; S: number }> = []
  let runs = 0
  for (const r of timed) {
    const S = r.policy_detail.S as { changes: Array<[number, number, number]> } | undefined
    if (!S) continue
    runs++
    const layers = r.per_layer_hit_rate.length
    const run = `${groupOf(r)} · ${r.cache_spec}`
    for (const [s, l, v] of S.changes) rows.push({ run, policy: r.policy_label, gate: s * layers + l, S: v })
    rows.push({ run, policy: r.policy_label, gate: r.steps * layers, S: S.changes.at(-1)![2] })
  }
  if (runs === 0) return []
  return [
    {
      id: "fig-s",
      title: "Prefetch step S over time (adaptive policies)",
      caption:
        "EF-A's adaptive horizon S at each layer gate (step × layers + layer), one panel per run. It starts from " +
        "⌈N_e·E_s/(C_s·T_l)⌉ and moves with the stall and over-prefetch counters; it is capped at L − 1.",
      markSelector: ".mark-line.role-mark path",
      marks: runs,
      svg: await render({
        ...config,
        data: { values: rows },
        facet: { field: "run", type: "nominal", title: null },
        columns: 3,
        resolve: { scale: { x: "independent" } },
        spec: {
          width: 200,
          height: 90,
          mark: { type: "line", interpolate: "step-after" },
          encoding: {
            x: { field: "gate", type: "quantitative", title: "layer gate", axis: { tickCount: 3 } },
            y: { field: "S", type: "quantitative", title: "S (layers ahead)", axis: { tickCount: 3 } },
            color,
            detail: { field: "run" }
          }
        }
      } as TopLevelSpec)
    }
  ]
}

/** Per-layer hit rate: for each trace, the runs at its middle cache size on its first GPU. */
async function heatChart(timed: CellResult[], policies: string[]): Promise<Chart[]> {
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
  if (heat.length === 0) return []
  return [
    {
      id: "fig-heat",
      title: "Hit rate per layer",
      caption:
        "Hit rate of every layer (columns) for each policy (rows), at each trace's middle cache size. Bright = " +
        "most accesses hit; dark cells show layers a policy serves badly.",
      markSelector: ".mark-rect.role-mark path",
      marks: heat.length,
      svg: await render({
        ...config,
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
              scale: { scheme: "viridis", domain: [0, 1] },
              legend: { orient: "right" }
            }
          }
        }
      } as TopLevelSpec)
    }
  ]
}

/**
 * Runs given a byte budget (--cache-bytes, a sweep's cacheBytes): hit rate (and stall, when timed)
 * against the budget, with one decode token's working set marked: below that line a global LRU
 * keeps nothing from one token to the next on layer-cyclic access, and its hit rate falls to 0.
 */
async function byteBudgetCharts(results: CellResult[], color: Color): Promise<Chart[]> {
  const sized = results.filter((r) => r.cache_bytes !== undefined && r.working_set_bytes !== undefined)
  if (sized.length === 0) return []
  const MiB = 2 ** 20
  const rows = sized.map((r) => ({
    group: groupOf(r),
    policy: r.policy_label,
    mib: r.cache_bytes! / MiB,
    hit_rate: r.hit_rate,
    stall_s: r.stall_ns / 1e9,
    timed: r.mode === "timed",
    working_set_mib: r.working_set_bytes! / MiB
  }))
  const groups = new Set(rows.map((r) => r.group)).size
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
    marks: new Set(values.map((r) => `${r.group}|${r.policy}`)).size,
    svg: await render({
      ...config,
      data: { values },
      facet: { field: "group", type: "nominal", title: null },
      columns: Math.min(2, groups),
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
              color
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
