/**
 * The benchmarks' DeepSeek-V3 trace (issue #15): `trace gen --preset deepseek-v3 --generator zipf
 * --skew 0.8 --requests 8 --seed 1`, cached under .cache/. With `lookahead` > 0 the same routes
 * plus pre-gate picks for d = 1..lookahead (drawn after the routing). With other `requests`, the
 * same generator's tokens split into that many requests (EF-H's token scheduler regroups only
 * where a unit holds more than a batch: 32 requests at batch 8).
 */
import { join } from "node:path"

export const deepseekTraceFile = (root: string, tokens: number, lookahead = 0, requests = 8): string =>
  join(
    root,
    ".cache",
    `deepseek-v3-zipf-${tokens}${lookahead > 0 ? `-la${lookahead}` : ""}${requests !== 8 ? `-r${requests}` : ""}.eft`
  )

/** The CLI arguments that write it. */
export const deepseekTraceArgs = (tokens: number, out: string, lookahead = 0, requests = 8): string[] =>
  [
    "trace",
    "gen",
    "--preset",
    "deepseek-v3",
    "--generator",
    "zipf",
    "--skew",
    "0.8",
    "--tokens",
    String(tokens)
  ].concat(["--requests", String(requests), "--seed", "1", "--lookahead", String(lookahead), "--out", out])

/** The CLI arguments of the benchmarks' timed run of `policy` on it: H100 SXM, batch 8, 3712 slots, JSON out. */
export const deepseekSimulateArgs = (trace: string, policy: string): string[] =>
  ["simulate", "--trace", trace, "--model", "deepseek-v3", "--hw", "h100-sxm", "--batch", "8"].concat([
    "--cache-slots",
    "3712",
    "--policy",
    policy,
    "--format",
    "json"
  ])

/** The CLI arguments of the benchmarks' cache-only run of `policy` on it: batch 1, 3712 slots, JSON out. */
export const deepseekCacheOnlyArgs = (trace: string, policy: string): string[] =>
  ["simulate", "--trace", trace, "--model", "deepseek-v3", "--mode", "cache-only", "--cache-slots", "3712"].concat([
    "--policy",
    policy,
    "--format",
    "json"
  ])
