/**
 * esbuild bundles of this package's TypeScript entry points, cached in
 * node_modules/.cache/expertflow and keyed by a hash of every file that went into them (esbuild's
 * metafile lists them): an unchanged tree reuses the bundle, any edited source or dependency
 * rebuilds it. Plain JavaScript, because the CLI launcher needs it before any TypeScript loads.
 */
import { createHash } from "node:crypto"
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs"
import { basename, dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { writeFileAtomic } from "./atomicWrite.mjs"

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

/**
 * The path of an ESM bundle of `entry` (an absolute path), built on first use. CommonJS
 * dependencies get a `require` (the banner), as the GPU pack's bundle does.
 * @param {typeof import("esbuild")} esbuild
 * @param {string} entry
 * @param {string} [cacheDir]
 * @returns {string}
 */
export function cachedBundle(esbuild, entry, cacheDir = defaultCacheDir) {
  const name = basename(entry).replace(/\.[cm]?[jt]s$/, "")
  const manifest = join(cacheDir, `${name}.json`)
  const old = existsSync(manifest) ? JSON.parse(readFileSync(manifest, "utf8")) : undefined
  if (old && existsSync(old.bundle) && keyOf(esbuild.version, old.inputs) === old.key) return old.bundle
  const built = esbuild.buildSync({
    entryPoints: [entry],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    absWorkingDir: "/",
    write: false,
    metafile: true,
    logLevel: "silent",
    outfile: join(cacheDir, `${name}.mjs`),
    external: ["koffi", "onnxruntime-node", "esbuild", "tsx", "playwright-core"],
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" }
  })
  const inputs = Object.keys(built.metafile.inputs)
    .map((p) => join("/", p))
    .sort()
  const key = keyOf(esbuild.version, inputs)
  const bundle = join(cacheDir, `${name}-${key}.mjs`)
  mkdirSync(cacheDir, { recursive: true })
  writeFileAtomic(bundle, built.outputFiles[0].contents)
  writeFileAtomic(manifest, JSON.stringify({ key, inputs, bundle }))
  if (old && old.bundle !== bundle) rmSync(old.bundle, { force: true }) // a process already running it has it open
  return bundle
}
