/**
 * The sweep worker's entry file: a cached esbuild bundle of sweepWorker.ts (base/bundleCache.mjs),
 * so a worker thread loads one JavaScript file instead of transpiling every module itself (about a
 * second per worker), and a sweep reuses it (~12 ms) until a source changes (~0.3 s to rebuild).
 * Paths start from the package root, not this file, which may itself be running from a bundle.
 * Without esbuild (the GPU pack) or a writable cache, workers run the TypeScript through tsx.
 */
import { join } from "node:path"
import { cachedBundle, packageRoot } from "../base/bundleCache.mjs"

export function workerEntry(): string {
  try {
    return cachedBundle(join(packageRoot, "workflows", "sweepWorker.ts"))
  } catch {
    return join(packageRoot, "workflows", "sweepWorker.mjs")
  }
}
