import { describe, expect, it } from "@jest/globals"
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as esbuild from "esbuild"
import { cachedBundle } from "../sim/workerBundle.ts"

describe("the sweep worker's bundle cache", () => {
  const src = mkdtempSync(join(tmpdir(), "ef-bundle-src-")), cache = join(src, "cache")
  const entry = join(src, "entry.ts"), dep = join(src, "dep.ts")
  writeFileSync(entry, `import { answer } from "./dep.ts"\nexport const value = answer * 2\n`)
  writeFileSync(dep, `export const answer = 21\n`)

  it("builds once, reuses the bundle while no input changed, rebuilds when one did", async () => {
    const first = cachedBundle(esbuild, entry, cache)
    const builtAt = statSync(first).mtimeMs
    expect((await import(first)).value).toBe(42)
    expect(cachedBundle(esbuild, entry, cache)).toBe(first)
    expect(statSync(first).mtimeMs).toBe(builtAt)

    writeFileSync(dep, `export const answer = 50\n`) // an imported file, not the entry
    const second = cachedBundle(esbuild, entry, cache)
    expect(second).not.toBe(first)
    expect(existsSync(first)).toBe(false) // the stale bundle is removed
    expect((await import(second)).value).toBe(100)
    expect(JSON.parse(readFileSync(join(cache, "entry.json"), "utf8")).inputs).toEqual([dep, entry].sort())
  })
})
