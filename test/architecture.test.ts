import { describe, expect, test } from "@jest/globals"
import { spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { repoRoot } from "./helpers/fixtures.ts"

const SOURCES = ["base", "traces", "policies", "sim", "hw", "workflows", "reports", "cli", "bin", "test", "bench"]

/** dependency-cruiser over the tree with .dependency-cruiser.cjs (the layer order and no cycles). */
function cruise(): { code: number; out: string } {
  const bin = join(repoRoot, "node_modules", ".bin", "depcruise")
  const r = spawnSync(bin, [...SOURCES, "--config", ".dependency-cruiser.cjs", "--output-type", "err"], {
    cwd: repoRoot,
    encoding: "utf8"
  })
  return { code: r.status ?? -1, out: r.stdout + r.stderr }
}

describe("architecture (docs/architecture.md)", () => {
  test("no file imports from a later layer, and no import cycle exists", () => {
    const r = cruise()
    if (r.code !== 0) console.log(r.out)
    expect(r.code).toBe(0)
  })

  test("source lines are at most 120 characters", () => {
    const files = spawnSync("git", ["ls-files", "*.ts", "*.mts", "*.mjs", "*.js", "*.cjs", "*.py"], {
      cwd: repoRoot,
      encoding: "utf8"
    }).stdout.split("\n")
    const long: string[] = []
    // Measurement artifacts (hw/measurements/) are kept exactly as they were run.
    for (const f of files.filter((f) => f && !f.startsWith("hw/measurements/"))) {
      readFileSync(join(repoRoot, f), "utf8")
        .split("\n")
        .forEach((line, i) => {
          if ([...line].length > 120) long.push(`${f}:${i + 1} (${[...line].length} characters)`)
        })
    }
    expect(long).toEqual([])
  })
})
