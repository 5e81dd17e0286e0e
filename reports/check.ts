/**
 * `expertflow check`: the CI regression gate. Runs a fixed suite (a sweep file, seconds) in
 * process and compares stall, hit-rate and prefetch-precision metrics of every cell with a
 * committed baseline. A cell regresses when its stall fraction rises, or its hit rate or
 * prefetch precision falls, by more than the tolerance. `--update` rewrites the baseline (review
 * the diff in the commit).
 */
import { existsSync } from "node:fs"
import { readInput } from "../base/readInput.ts"
import { writeFileAtomic } from "../base/atomicWrite.mjs"
import { InputError, UsageError } from "../base/errors.ts"
import { runCell, type CellResult } from "../workflows/runCell.ts"
import { planSweep, type Cell } from "../workflows/sweepFile.ts"
import { TOOL_VERSION } from "../base/version.ts"

/** Metric → which direction is worse. */
export const CHECKED = { stall_fraction: "up", hit_rate: "down", prefetch_precision: "down" } as const
type Metric = keyof typeof CHECKED
export type Tolerance = Record<Metric, number>
export const DEFAULT_TOLERANCE: Tolerance = { stall_fraction: 0.001, hit_rate: 0.001, prefetch_precision: 0.001 }

export function parseTolerance(spec: string | undefined): Tolerance {
  const tol = { ...DEFAULT_TOLERANCE }
  for (const part of (spec ?? "").split(",").filter(Boolean)) {
    const [k, v] = part.split("=")
    if (!(k! in CHECKED) || v === undefined || !Number.isFinite(Number(v)) || Number(v) < 0) {
      throw new UsageError(
        `--tolerance wants metric=absolute,... with metrics ${Object.keys(CHECKED).join(", ")}; got '${part}'`
      )
    }
    tol[k as Metric] = Number(v)
  }
  return tol
}

export const cellKey = (
  c: Pick<Cell, "hardware" | "policyLabel" | "cacheLabel" | "batch"> & { trace: { id: string } }
) => `${c.trace.id} | ${c.hardware} | ${c.policyLabel} | ${c.cacheLabel} | batch ${c.batch}`

type Metrics = Record<Metric, number | null>
interface Baseline {
  suite: string
  version: string
  cells: Record<string, Metrics>
}

export interface CheckOutcome {
  regressions: number
  lines: string[]
  results: Map<string, Metrics>
}

export function runSuite(suiteFile: string): Map<string, Metrics> {
  const plan = planSweep(suiteFile)
  const out = new Map<string, Metrics>()
  for (const cell of plan.cells) {
    const r: CellResult = runCell(plan.name, cell)
    out.set(cellKey(cell), {
      stall_fraction: r.stall_fraction,
      hit_rate: r.hit_rate,
      prefetch_precision: r.prefetch_precision
    })
  }
  return out
}

export function check(suiteFile: string, baselineFile: string, tol: Tolerance, update: boolean): CheckOutcome {
  const results = runSuite(suiteFile)
  if (update) {
    const cells: Record<string, Metrics> = {}
    for (const key of [...results.keys()].sort()) cells[key] = results.get(key)!
    writeFileAtomic(baselineFile, `${JSON.stringify({ suite: suiteFile, version: TOOL_VERSION, cells }, null, 1)}\n`)
    return { regressions: 0, lines: [`baseline rewritten: ${results.size} cells → ${baselineFile}`], results }
  }
  if (!existsSync(baselineFile))
    throw new InputError(baselineFile, "file", "path", "no baseline file; create one with --update")
  let base: Baseline
  try {
    base = JSON.parse(readInput(baselineFile, "utf8"))
  } catch (e) {
    throw new InputError(baselineFile, "document", "(json)", (e as Error).message)
  }
  const lines: string[] = []
  let regressions = 0,
    improved = 0,
    missing = 0
  const fmt = (x: number | null) => (x === null ? "n/a" : `${(x * 100).toFixed(3)}%`)
  for (const [key, now] of results) {
    const was = base.cells[key]
    if (!was) {
      lines.push(`NEW        ${key}: not in the baseline (run with --update to add it)`)
      continue
    }
    for (const m of Object.keys(CHECKED) as Metric[]) {
      const a = was[m],
        b = now[m]
      if (a === b) continue
      if (a === null || b === null) {
        regressions++
        lines.push(`REGRESSION ${key}: ${m} ${fmt(a)} → ${fmt(b)}`)
        continue
      }
      const worse = CHECKED[m] === "up" ? b - a : a - b
      if (Math.abs(b - a) < 1e-12) continue
      if (worse > tol[m]) {
        regressions++
        lines.push(`REGRESSION ${key}: ${m} ${fmt(a)} → ${fmt(b)} (tolerance ${fmt(tol[m])})`)
      } else if (worse < 0) {
        improved++
        lines.push(`improved   ${key}: ${m} ${fmt(a)} → ${fmt(b)}`)
      } else lines.push(`within tol ${key}: ${m} ${fmt(a)} → ${fmt(b)}`)
    }
  }
  for (const key of Object.keys(base.cells))
    if (!results.has(key)) {
      missing++
      lines.push(`MISSING    ${key}: in the baseline, not in this run (an optional trace is absent?)`)
    }
  lines.push(
    `${results.size} cells checked against ${baselineFile}: ${regressions} regression(s), ${improved} ` +
      `improvement(s), ${missing} missing`
  )
  return { regressions, lines, results }
}
