#!/usr/bin/env node
// Runs the CLI from a cached esbuild bundle of cli/main.ts (base/bundleCache.mjs), rebuilt whenever
// a source changes, with V8's code cache (base/codeCache.mjs): about 0.2 s to start instead of 1 s
// through tsx. Without esbuild, or where the cache can't be written, it runs the TypeScript through
// tsx: same behaviour, slower start.
import { join } from "node:path"
import { cachedBundle, packageRoot } from "../base/bundleCache.mjs"
import { runCommonJs } from "../base/codeCache.mjs"

let bundle
try {
  bundle = cachedBundle(join(packageRoot, "cli", "main.ts"), undefined, "cjs")
} catch {
  bundle = undefined
}
if (bundle) runCommonJs(bundle)
else {
  const { register } = await import("tsx/esm/api")
  register()
  await import("../cli/main.ts")
}
