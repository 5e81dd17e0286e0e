/**
 * Runs a CommonJS bundle with V8's code cache kept beside it (`<file>.v8cache`), so a start skips
 * parsing and compiling the CLI's ~1.9 MB bundle: Node 20 has no module.enableCompileCache, and
 * an ES module can't be given cached code. The first run, or one whose cache V8 rejects (another
 * Node, other V8 flags), writes the cache as it exits, holding every function that run compiled.
 * import() inside such a script has no loader on Node 20 (a cached script loses its dynamic-import
 * callback), so this module lends its own to the bundle's packages loaded on first use
 * (base/importModule.ts). Plain JavaScript: the CLI launcher runs it before any TypeScript loads.
 */
import { existsSync, readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname } from "node:path"
import vm from "node:vm"
import { writeFileAtomic } from "./atomicWrite.mjs"

/** Where `file`'s code cache is kept. */
export const codeCacheOf = (file) => `${file}.v8cache`

/**
 * Run the CommonJS file `file` as Node's loader would (its own require, module, __filename,
 * __dirname), from its code cache when V8 accepts it.
 * @param {string} file
 */
export function runCommonJs(file) {
  const cacheFile = codeCacheOf(file)
  // "#!" to "//": the shebang Node's loader strips, at the same length, so lines stay in place.
  const source = readFileSync(file, "utf8").replace(/^#!/, "//")
  const cachedData = existsSync(cacheFile) ? readFileSync(cacheFile) : undefined
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: file,
    cachedData
  })
  if (cachedData === undefined || script.cachedDataRejected)
    process.once("exit", () => {
      try {
        writeFileAtomic(cacheFile, script.createCachedData())
      } catch {
        // A read-only cache folder: every start compiles, as without a cache.
      }
    })
  globalThis[Symbol.for("expertflow.import")] = (specifier) => import(specifier)
  const module = { exports: {}, filename: file, id: file }
  script.runInThisContext()(module.exports, createRequire(file), module, file, dirname(file))
}
