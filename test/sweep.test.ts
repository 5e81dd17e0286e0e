import { describe, expect, it } from "@jest/globals"
import { spawn } from "node:child_process"
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { cli } from "./helpers/cli.ts"
import { repoRoot, tempDir } from "./helpers/fixtures.ts"
import { planSweep } from "../workflows/sweepFile.ts"
import { runCell } from "../workflows/runCell.ts"

const dir = tempDir("ef-sweep-")
const sweep = (name: string, extra: object = {}) => {
  const file = join(dir, `${name}.json`)
  writeFileSync(
    file,
    JSON.stringify({
      name,
      mode: "timed",
      traces: [
        { id: "a", model: "mixtral-8x7b", synthetic: { tokens: 120, requests: 3, seed: 1 } },
        { id: "b", model: "olmoe-1b-7b", synthetic: { tokens: 60, requests: 2, seed: 2 } }
      ],
      hardware: ["h100-pcie", "a6000"],
      policies: [
        "cache=lru",
        { label: "prefetch", spec: "cache=lru,prefetch=fixed:1,predictor=prev-token" },
        "cache=belady,prefetch=window:2,predictor=oracle"
      ],
      cache: [{ fraction: 0.25 }, { fraction: 0.5 }, { bytes: "20GiB" }],
      batch: [1, 2],
      ...extra
    })
  )
  return file
}
const lines = (f: string) => readFileSync(f, "utf8").split("\n").filter(Boolean)

describe("expertflow sweep", () => {
  const file = sweep("main")
  const one = join(dir, "one.jsonl"),
    two = join(dir, "two.jsonl")

  it("runs the cross product; results are identical for any worker count", () => {
    expect(cli(["sweep", file, "--workers", "1", "--out", one]).code).toBe(0)
    expect(cli(["sweep", file, "--workers", "2", "--out", two]).code).toBe(0)
    expect(lines(one)).toHaveLength(2 * 2 * 3 * 3 * 2)
    expect(readFileSync(two, "utf8")).toBe(readFileSync(one, "utf8"))
  })

  it("a worker's warm-up runs (first steps of other cells) leave no state behind", () => {
    const plan = planSweep(file)
    const cell = plan.cells.find((c) => c.policy.includes("belady"))!
    const fresh = JSON.stringify(runCell(plan.name, cell))
    for (const other of plan.cells.slice(0, 12)) runCell(plan.name, other, 8 * other.batch)
    expect(JSON.stringify(runCell(plan.name, cell))).toBe(fresh)
    expect(JSON.stringify(runCell(plan.name, cell, 8 * cell.batch))).not.toBe(fresh) // a warm-up replays less
  })

  it("rerunning skips finished cells", () => {
    const r = cli(["sweep", file, "--out", one])
    expect(r.stderr).toMatch(/0 cells run, 72 already done/) // a summary: stderr
  })

  it("survives kill -9 at any moment: rerun finds every cell exactly once, equal to an uninterrupted run", async () => {
    const killed = join(dir, "killed.jsonl")
    const child = spawn(
      process.execPath,
      [join(repoRoot, "bin", "expertflow.js"), "sweep", file, "--workers", "1", "--out", killed],
      { stdio: "ignore" }
    )
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => {
        if (existsSync(killed) && lines(killed).length >= 10) {
          clearInterval(poll)
          child.kill("SIGKILL")
          resolve()
        }
      }, 5)
    })
    await new Promise((r) => child.on("exit", r))
    const partial = lines(killed).length
    expect(partial).toBeLessThan(72)
    // A torn write (the cell in flight) is cut off on resume.
    appendFileSync(killed, '{"tool":"expertflow","cell_id":"tor')
    expect(cli(["sweep", file, "--workers", "2", "--out", killed]).code).toBe(0)
    expect(readFileSync(killed, "utf8")).toBe(readFileSync(one, "utf8"))
    const ids = lines(killed).map((l) => JSON.parse(l).cell_id)
    expect(new Set(ids).size).toBe(72)
  })

  it("shards cover the sweep and merge into exactly the one-machine file", () => {
    const shards = [0, 1, 2].map((i) => join(dir, `shard${i}.jsonl`))
    shards.forEach((s, i) => {
      expect(cli(["sweep", file, "--shard", `${i}/3`, "--workers", "1", "--out", s]).code).toBe(0)
    })
    expect(shards.map((s) => lines(s).length)).toEqual([24, 24, 24])
    const merged = join(dir, "merged.jsonl")
    expect(cli(["merge", file, ...shards, "--out", merged]).code).toBe(0)
    expect(readFileSync(merged, "utf8")).toBe(readFileSync(one, "utf8"))
    expect(cli(["merge", file, shards[0]!, "--out", merged]).code).toBe(2) // missing shards
  })

  it("a bad sweep file lists every problem with its path, and nothing runs", () => {
    const bad = sweep("bad", {
      hardware: ["h100-pcie", "h900"],
      policies: ["cache=lru", "cache=nope", { label: "x", spec: "cache=lru,prefetch=fixed:1" }],
      cache: [{ fraction: 1.5 }, { slots: 8 }],
      traces: [
        { id: "a", model: "mixtral-9x9b", synthetic: { tokens: 10, requests: 1, seed: 1 } },
        { id: "b", model: "mixtral-8x7b", path: "nope.jsonl" }
      ]
    })
    const out = join(dir, "bad.jsonl")
    const r = cli(["sweep", bad, "--out", out])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/\["cache"\]\[0\]/)
    const structural = cli(["sweep", sweep("bad2", { cache: [{ fraction: 1.5 }], batch: [0] }), "--out", out])
    expect(structural.stderr).toMatch(/\["cache"\]\[0\]/)
    expect(structural.stderr).toMatch(/\["batch"\]\[0\]/)
    const semantic = cli([
      "sweep",
      sweep("bad3", {
        hardware: ["h900"],
        policies: ["cache=nope", { label: "x", spec: "cache=lru,prefetch=fixed:1" }],
        traces: [
          { id: "a", model: "mixtral-9x9b", synthetic: { tokens: 10, requests: 1, seed: 1 } },
          { id: "b", model: "mixtral-8x7b", path: "nope.jsonl" }
        ]
      }),
      "--out",
      out
    ])
    for (const where of ["traces[0].model", "traces[1].path", "hardware[0]", "policies[0]", "policies[1]"])
      expect(semantic.stderr).toContain(where)
    expect(existsSync(out)).toBe(false)
  })
})

describe("expertflow check (the CI regression gate)", () => {
  it("passes on the committed baseline", () => {
    const r = cli(["check", "--baseline", "reports/baseline.json"])
    expect(r.stdout).toMatch(/0 regression\(s\)/)
    expect(r.code).toBe(0)
  })
  it("fails when a policy is made worse", () => {
    const suite = JSON.parse(readFileSync(join(repoRoot, "reports/sweeps/regression.json"), "utf8"))
    // Degrade EF-A: same label (so the same baseline cells), a policy that prefetches nothing.
    suite.policies = suite.policies.map((p: { label: string; spec: string }) =>
      p.label === "ef-a" ? { label: "ef-a", spec: "cache=fifo" } : p
    )
    suite.traces = suite.traces.map((t: { path?: string }) =>
      t.path ? { ...t, path: join(repoRoot, "reports/sweeps", t.path) } : t
    )
    const degraded = join(dir, "degraded.json")
    writeFileSync(degraded, JSON.stringify(suite))
    const r = cli(["check", "--baseline", "reports/baseline.json", "--suite", degraded])
    expect(r.code).toBe(3) // a regression found, not a usage error
    expect(r.stdout).toMatch(/REGRESSION .* \| ef-a \| .*(stall_fraction|hit_rate|prefetch_precision)/)
  })
})
