/**
 * esbuild bundles of this package's TypeScript entry points, cached in
 * node_modules/.cache/expertflow and keyed by a hash of every file that went into them (esbuild's
 * metafile lists them): an unchanged tree reuses the bundle, any edited source or dependency
 * rebuilds it. Each start compares the inputs' sizes and modification times first and reads them
 * only when one moved, and loads esbuild only to build: a CLI start costs a few ms of stats, not
 * reading ~700 files and loading the bundler. Plain JavaScript, because the CLI launcher needs it
 * before any TypeScript loads.
 */
import { createHash } from "node:crypto"
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from "node:fs"
import { createRequire } from "node:module"
import { basename, dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { writeFileAtomic } from "./atomicWrite.mjs"
import { codeCacheOf } from "./codeCache.mjs"

/**
 * This package's root: the nearest folder up with the package.json of "expertflow". Found by
 * walking up, because this code also runs from inside a bundle in node_modules/.cache.
 */
function findRoot(from) {
  for (let dir = from; ; dir = dirname(dir)) {
    const pkg = join(dir, "package.json")
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, "utf8")).name === "expertflow") return dir
    if (dirname(dir) === dir) return fileURLToPath(new URL("..", import.meta.url)) // no package.json: the GPU pack
  }
}
export const packageRoot = findRoot(dirname(fileURLToPath(import.meta.url)))
export const defaultCacheDir = join(packageRoot, "node_modules", ".cache", "expertflow")

/** Hash of the inputs' contents (and the esbuild version); undefined when one has gone. */
function keyOf(version, inputs) {
  const h = createHash("sha256").update(version)
  for (const file of inputs) {
    if (!existsSync(file)) return undefined
    h.update(file).update("\0").update(readFileSync(file)).update("\0")
  }
  return h.digest("hex").slice(0, 16)
}

/** Each input's size and modification time (null when it has gone). */
function stampsOf(inputs) {
  return inputs.map((file) => {
    const s = statSync(file, { throwIfNoEntry: false })
    return s ? `${s.size}:${s.mtimeMs}` : null
  })
}

const requireHere = createRequire(import.meta.url)

/** Per output format: the bundle's extension, and what stands in for ESM's own `require` and `import.meta.url`. */
const FORMATS = {
  // CommonJS dependencies get a `require`, as the GPU pack's bundle does.
  esm: {
    ext: "mjs",
    banner: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
    define: {}
  },
  // Loaded through base/codeCache.mjs (V8's code cache needs a script, not a module).
  cjs: {
    ext: "cjs",
    banner: "var __import_meta_url = require('node:url').pathToFileURL(__filename).href;",
    define: { "import.meta.url": "__import_meta_url" }
  }
}

/**
 * The path of a bundle of `entry` (an absolute path), built on first use: an ES module, or with
 * format "cjs" a CommonJS script (the CLI's, for base/codeCache.mjs). Throws when esbuild is not
 * installed.
 * @param {string} entry
 * @param {string} [cacheDir]
 * @param {"esm" | "cjs"} [format]
 * @returns {string}
 */
export function cachedBundle(entry, cacheDir = defaultCacheDir, format = "esm") {
  const out = FORMATS[format]
  const name = basename(entry).replace(/\.[cm]?[jt]s$/, "")
  const manifest = join(cacheDir, format === "esm" ? `${name}.json` : `${name}.${format}.json`)
  const old = existsSync(manifest) ? JSON.parse(readFileSync(manifest, "utf8")) : undefined
  const version = requireHere("esbuild/package.json").version
  if (old && old.version === version && existsSync(old.bundle)) {
    const stamps = stampsOf(old.inputs)
    if (stamps.every((s, i) => s !== null && s === old.stamps?.[i])) return old.bundle
    // Touched, perhaps not changed (a checkout, a revert): the contents decide.
    if (keyOf(version, old.inputs) === old.key) {
      writeFileAtomic(manifest, JSON.stringify({ ...old, stamps }))
      return old.bundle
    }
  }
  const esbuild = requireHere("esbuild")
  const built = esbuild.buildSync({
    entryPoints: [entry],
    bundle: true,
    platform: "node",
    format,
    target: "node20",
    absWorkingDir: "/",
    write: false,
    metafile: true,
    logLevel: "silent",
    outfile: join(cacheDir, `${name}.${out.ext}`),
    // vega and vega-lite only draw a report's charts (a dynamic import, resolved from node_modules
    // when one is drawn): half the bundle's bytes, left out of every start's compile.
    external: ["koffi", "onnxruntime-node", "esbuild", "tsx", "playwright-core", "vega", "vega-lite"],
    banner: { js: out.banner },
    define: out.define
  })
  const inputs = Object.keys(built.metafile.inputs)
    .map((p) => join("/", p))
    .sort()
  const key = keyOf(version, inputs)
  const bundle = join(cacheDir, `${name}-${key}.${out.ext}`)
  mkdirSync(cacheDir, { recursive: true })
  writeFileAtomic(bundle, built.outputFiles[0].contents)
  writeFileAtomic(manifest, JSON.stringify({ key, version, inputs, stamps: stampsOf(inputs), bundle }))
  if (old && old.bundle !== bundle) {
    // A process already running it has it open.
    rmSync(old.bundle, { force: true })
    rmSync(codeCacheOf(old.bundle), { force: true })
  }
  return bundle
}
