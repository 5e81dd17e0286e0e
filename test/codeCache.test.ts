import { describe, expect, it } from "@jest/globals"
import { spawnSync } from "node:child_process"
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { cachedBundle, packageRoot } from "../base/bundleCache.mjs"
import { codeCacheOf } from "../base/codeCache.mjs"
import { tempDir } from "./helpers/fixtures.ts"

describe("the CLI's code cache (a CommonJS bundle run as a cached script)", () => {
  const src = tempDir("ef-code-cache-")
  const entry = join(src, "entry.ts")
  // What the CLI's bundle relies on: import.meta.url, and a package loaded on first use.
  writeFileSync(
    entry,
    `import { importModule } from ${JSON.stringify(join(packageRoot, "base", "importModule.ts"))}\n` +
      `importModule("node:path", () => import("node:path")).then((p) =>\n` +
      `  console.log(JSON.stringify({ url: import.meta.url, base: p.basename(import.meta.url) })))\n`
  )
  const bundle = cachedBundle(entry, join(src, "cache"), "cjs")
  const launcher = pathToFileURL(join(packageRoot, "base", "codeCache.mjs")).href
  const run = () =>
    spawnSync(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `import { runCommonJs } from ${JSON.stringify(launcher)}\nrunCommonJs(${JSON.stringify(bundle)})`
      ],
      { encoding: "utf8" }
    )

  it("writes the cache on the first run and runs from it after, dynamic imports included", () => {
    expect(bundle.endsWith(".cjs")).toBe(true)
    expect(existsSync(codeCacheOf(bundle))).toBe(false)
    const first = run()
    expect(first.stderr).toBe("")
    const expected = { url: pathToFileURL(bundle).href, base: bundle.split("/").pop() }
    expect(JSON.parse(first.stdout)).toEqual(expected)
    const cache = readFileSync(codeCacheOf(bundle))
    expect(cache.length).toBeGreaterThan(0)
    // From the cache: Node 20 gives import() in a cached script no loader; the lent import must answer.
    const second = run()
    expect(second.stderr).toBe("")
    expect(JSON.parse(second.stdout)).toEqual(expected)
    expect(readFileSync(codeCacheOf(bundle)).equals(cache)).toBe(true) // accepted, so not rewritten
  })

  it("runs past a cache V8 rejects, and replaces it", () => {
    writeFileSync(codeCacheOf(bundle), "not a code cache")
    const r = run()
    expect(r.stderr).toBe("")
    expect(JSON.parse(r.stdout).base).toBe(bundle.split("/").pop())
    expect(readFileSync(codeCacheOf(bundle), "utf8")).not.toBe("not a code cache")
  })
})
