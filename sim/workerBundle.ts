/**
 * The sweep worker's entry file. From TypeScript sources the worker is bundled with esbuild, so a
 * worker thread loads one JavaScript file instead of transpiling every module itself (about a
 * second per worker). The bundle is cached in node_modules/.cache/expertflow, keyed by a hash of
 * every file that went into it (esbuild's metafile lists them): an unchanged tree reuses it
 * (~12 ms instead of ~0.3 s per sweep), any edited source rebuilds it. Without esbuild (the GPU
 * pack) or a writable cache, workers fall back to tsx: slower to start, same results.
 */
import { createHash } from "node:crypto"
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs"
import { basename, join } from "node:path"
import { fileURLToPath } from "node:url"
import { writeFileAtomic } from "./atomicWrite.ts"

interface Manifest { readonly key: string; readonly inputs: ReadonlyArray<string>; readonly bundle: string }

/** Hash of the inputs' contents (and the esbuild version); undefined when one has gone. */
function keyOf(version: string, inputs: ReadonlyArray<string>): string | undefined {
  const h = createHash("sha256").update(version)
  for (const file of inputs) {
    if (!existsSync(file)) return undefined
    h.update(file).update("\0").update(readFileSync(file)).update("\0")
  }
  return h.digest("hex").slice(0, 16)
}

/** An ESM bundle of `entry` (absolute path) in `cacheDir`, rebuilt only when an input changed. */
export function cachedBundle(esbuild: typeof import("esbuild"), entry: string, cacheDir: string): string {
  const name = basename(entry).replace(/\.[cm]?[jt]s$/, "")
  const manifest = join(cacheDir, `${name}.json`)
  const old = existsSync(manifest) ? JSON.parse(readFileSync(manifest, "utf8")) as Manifest : undefined
  if (old && existsSync(old.bundle) && keyOf(esbuild.version, old.inputs) === old.key) return old.bundle
  const built = esbuild.buildSync({
    entryPoints: [entry], bundle: true, platform: "node", format: "esm", target: "node20", absWorkingDir: "/",
    write: false, metafile: true, logLevel: "silent", external: ["koffi"], outfile: join(cacheDir, `${name}.mjs`)
  })
  const inputs = Object.keys(built.metafile.inputs).map((p) => join("/", p)).sort()
  const key = keyOf(esbuild.version, inputs)!
  const bundle = join(cacheDir, `${name}-${key}.mjs`)
  mkdirSync(cacheDir, { recursive: true })
  writeFileAtomic(bundle, built.outputFiles[0]!.contents)
  writeFileAtomic(manifest, JSON.stringify({ key, inputs, bundle } satisfies Manifest))
  if (old && old.bundle !== bundle) rmSync(old.bundle, { force: true }) // a worker loading it has it open
  return bundle
}

export async function workerEntry(): Promise<string> {
  const fallback = fileURLToPath(new URL("./sweepWorker.mjs", import.meta.url))
  let esbuild: typeof import("esbuild")
  try { esbuild = await import("esbuild") } catch { return fallback } // absent from the GPU pack
  try {
    return cachedBundle(esbuild, fileURLToPath(new URL("./sweepWorker.ts", import.meta.url)), fileURLToPath(new URL("../node_modules/.cache/expertflow/", import.meta.url)))
  } catch {
    return fallback
  }
}
