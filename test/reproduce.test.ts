import { describe, expect } from "@jest/globals"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { cli } from "./helpers/cli.ts"
import { MIXTRAL_TRACE, tempDir, withShared } from "./helpers/fixtures.ts"

describe("expertflow reproduce", () => {
  withShared(MIXTRAL_TRACE, "the reproduction ledger (it replays the real Mixtral trace)")(
    "writes the same document twice, naming every input and giving a verdict per claim",
    () => {
      const dir = tempDir("ef-repro-")
      const a = join(dir, "a.md"),
        b = join(dir, "b.md")
      expect(cli(["reproduce", "--out", a, "--trace", MIXTRAL_TRACE]).code).toBe(0)
      expect(cli(["reproduce", "--out", b, "--trace", MIXTRAL_TRACE]).code).toBe(0)
      const doc = readFileSync(a, "utf8")
      expect(readFileSync(b, "utf8")).toBe(doc)
      expect(doc).toContain(MIXTRAL_TRACE)
      expect(doc).toMatch(/sha256 [0-9a-f]{16}/)
      expect(doc).toContain("parameters not fitted to a trace of this model")
      for (const claim of ["< 0.1% of the baseline", "−98.5%", "+21.79%", "91.96%", "10× throughput", "> 90%"])
        expect(doc).toContain(claim)
      expect(doc.match(/Verdict: \*\*(reproduced|not reproduced|not comparable)\*\*/g)!.length).toBeGreaterThanOrEqual(
        6
      )
      for (const hw of ["h100-pcie, 64 slots", "h100-pcie, 128 slots", "a6000, 64 slots", "a6000, 128 slots"])
        expect(doc).toContain(hw)
    }
  )
})
