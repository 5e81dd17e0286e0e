import { describe, expect, it } from "@jest/globals"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { cli } from "./helpers/cli.ts"
import { MIXTRAL_TRACE, repoRoot, tempDir, withShared } from "./helpers/fixtures.ts"

describe("expertflow reproduce", () => {
  withShared(MIXTRAL_TRACE, "the reproduction ledger (it replays the real Mixtral trace)")(
    "rewrites the committed docs/reproduction.md byte for byte, with a verdict and a reason per claim",
    () => {
      const out = join(tempDir("ef-repro-"), "reproduction.md")
      const r = cli(["reproduce", "--out", out])
      expect(r.code).toBe(0)
      const doc = readFileSync(out, "utf8")
      // The committed ledger was written by an earlier run of the same command: same bytes.
      expect(doc).toBe(readFileSync(join(repoRoot, "docs", "reproduction.md"), "utf8"))
      for (const claim of [
        "< 0.1% of the baseline",
        "−98.5%",
        "S = 2",
        "H20",
        "+21.79%",
        "−93.72%",
        "up to 10×",
        "91.96%",
        "> 90%"
      ])
        expect(doc).toContain(claim)
      const ledger = doc.split("## Claims ledger")[1]!.split("## Scenarios")[0]!
      const rows = ledger.split("\n").filter((l) => /^\| [AH]\d /.test(l))
      expect(rows.length).toBeGreaterThanOrEqual(10)
      for (const row of rows) expect(row).toMatch(/\*\*(reproduced|not reproduced|not comparable)\*\* \|$/)
      // Every verdict has its reason, and no reason is the expert format.
      const reasons = ledger.split("\n").filter((l) => /^- \*\*[AH]\d\*\* \(/.test(l))
      expect(reasons.length).toBe(rows.length)
      for (const reason of reasons) expect(reason).not.toMatch(/bf16 was used|because of bf16/i)
      for (const scenario of ["efa-4bit", "efa-accuracy", "efh-switch", "efh-dense-experts", "efh-memory"])
        expect(doc).toContain(`## Scenario \`${scenario}\``)
    }
  )
  it("runs one scenario to stdout and names the scenarios it knows", () => {
    const one = cli(["reproduce", "--scenario", "efh-memory", "--trace", join(repoRoot, "package.json")])
    expect(one.code).toBe(0)
    expect(one.stdout).toContain("## Scenario `efh-memory`")
    expect(one.stdout).not.toContain("## Claims ledger")
    const bad = cli(["reproduce", "--scenario", "nope"])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toMatch(/unknown scenario 'nope' \(known: efa-4bit, .*real-mixtral\)/)
  })
})
