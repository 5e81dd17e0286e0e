/**
 * Generator benchmark (part of `npm run bench`): 1 M tokens of a DeepSeek-V3-sized trace
 * (58 layers × 256 experts, top-8) generated and streamed to a canonical file. Prints one JSON
 * line: seconds, peak RSS, file size.
 */
import { rmSync, statSync } from "node:fs"
import { describe, generateChunks } from "../traces/generator.ts"
import { lookaheadDepthOf, presetParams, withLookahead } from "../traces/generatorParams.ts"
import { writeChunkedTrace } from "../traces/streamWriter.ts"

const tokens = Number(process.argv[process.argv.indexOf("--tokens") + 1]) || 1_000_000
// Routing, gate weights and request structure; no pre-gate lookahead (opt-in: --lookahead D).
const p = withLookahead(presetParams("deepseek-v3"), 0)
const o = { tokens, requests: 1000, seed: 1 }
const out = ".cache/deepseek-v3-1m.eft"
const t0 = performance.now()
const D = lookaheadDepthOf(p)
await writeChunkedTrace(
  out,
  p.model,
  { kind: "synthetic", description: describe(p, o), recording: "bench" },
  tokens,
  D,
  p.prefillFraction > 0,
  generateChunks(p, o)
)
const seconds = (performance.now() - t0) / 1000
const peak = process.resourceUsage().maxRSS * 1024
const bytes = statSync(out).size
rmSync(out)
process.stderr.write(
  `generated ${tokens} tokens of deepseek-v3 (58 × 256, top-8) in ${seconds.toFixed(1)} s, peak RSS ` +
    `${(peak / 2 ** 20).toFixed(0)} MiB, file ${(bytes / 2 ** 30).toFixed(2)} GiB\n`
)
console.log(
  JSON.stringify({
    gen_tokens: tokens,
    gen_seconds: Number(seconds.toFixed(2)),
    gen_peak_rss_bytes: peak,
    gen_file_bytes: bytes
  })
)
