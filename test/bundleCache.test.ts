import { describe, expect, it } from "@jest/globals"
import { existsSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { cachedBundle, packageRoot } from "../base/bundleCache.mjs"
import { tempDir } from "./helpers/fixtures.ts"

describe("the bundle cache (CLI and sweep workers)", () => {
  const src = tempDir("ef-bundle-src-"),
    cache = join(src, "cache")
  const entry = join(src, "entry.ts"),
    dep = join(src, "dep.ts")
  writeFileSync(entry, `import { answer } from "./dep.ts"\nexport const value = answer * 2\n`)
  writeFileSync(dep, `export const answer = 21\n`)

  it("builds once, reuses the bundle while no input changed, rebuilds when one did", async () => {
    const first = cachedBundle(entry, cache)
    const builtAt = statSync(first).mtimeMs
    expect((await import(first)).value).toBe(42)
    expect(cachedBundle(entry, cache)).toBe(first)
    expect(statSync(first).mtimeMs).toBe(builtAt)

    // Touched, same contents: the same bundle, and the new stamps kept for the next start.
    utimesSync(dep, new Date(2020, 0, 1), new Date(2020, 0, 1))
    expect(cachedBundle(entry, cache)).toBe(first)
    expect(JSON.parse(readFileSync(join(cache, "entry.json"), "utf8")).stamps).toContain(
      `${statSync(dep).size}:${statSync(dep).mtimeMs}`
    )

    writeFileSync(dep, `export const answer = 50\n`) // an imported file, not the entry
    const second = cachedBundle(entry, cache)
    expect(second).not.toBe(first)
    expect(existsSync(first)).toBe(false) // the stale bundle is removed
    expect((await import(second)).value).toBe(100)
    expect(JSON.parse(readFileSync(join(cache, "entry.json"), "utf8")).inputs).toEqual([dep, entry].sort())
  })

  it("finds the package root from source and from a bundle in node_modules/.cache", async () => {
    expect(existsSync(join(packageRoot, "cli", "main.ts"))).toBe(true)
    const bundle = cachedBundle(join(packageRoot, "workflows", "workerBundle.ts"))
    expect(bundle.startsWith(join(packageRoot, "node_modules", ".cache", "expertflow"))).toBe(true)
    try {
      const { workerEntry } = (await import(bundle)) as { workerEntry: () => string }
      expect(workerEntry()).toMatch(/\/sweepWorker-[0-9a-f]{16}\.mjs$/)
      expect((await workerEntry()).startsWith(join(packageRoot, "node_modules", ".cache", "expertflow"))).toBe(true)
    } finally {
      rmSync(bundle)
      rmSync(join(packageRoot, "node_modules", ".cache", "expertflow", "workerBundle.json"))
    }
  })
})
