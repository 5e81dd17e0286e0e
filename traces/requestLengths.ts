/**
 * Request lengths for continuous-batching workloads: prompt and output tokens per request, drawn
 * from a published length distribution. ShareGPT (the workload of EF-A) has, per the vLLM paper
 * (Kwon et al., SOSP 2023, §6.1 and Fig. 11, ShareGPT_V3_unfiltered_cleaned_split), mean input
 * 161.31 and mean output 337.99 tokens (8.4× and 5.8× Alpaca's 19.31 and 58.45). Only the means
 * are published; the shape used here is log-normal with σ = 1 (an assumption: heavy-tailed, as
 * the paper's histograms are), its µ set so the mean before clipping is the published one. EF-A
 * keeps prompts of 8–1024 tokens; outputs are clipped to 1–1024.
 */
import { Rng } from "../base/rng.ts"

export interface RequestLength {
  readonly prompt: number
  readonly output: number
}

export interface LengthDistribution {
  readonly name: string
  readonly source: string
  readonly promptMean: number
  readonly outputMean: number
  readonly sigma: number
  readonly promptRange: readonly [number, number]
  readonly outputRange: readonly [number, number]
}

export const SHAREGPT: LengthDistribution = {
  name: "ShareGPT",
  source: "vLLM paper (Kwon et al., SOSP 2023), §6.1 / Fig. 11: mean input 161.31, mean output 337.99 tokens",
  promptMean: 161.31,
  outputMean: 337.99,
  sigma: 1,
  promptRange: [8, 1024],
  outputRange: [1, 1024]
}

/** Standard normal draw (Box–Muller). */
function normal(rng: Rng): number {
  const u1 = rng.float() || 1e-12,
    u2 = rng.float()
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2)
}

const logNormal = (rng: Rng, mean: number, sigma: number, [lo, hi]: readonly [number, number]) =>
  Math.min(hi, Math.max(lo, Math.round(Math.exp(Math.log(mean) - (sigma * sigma) / 2 + sigma * normal(rng)))))

/** `n` requests' lengths, the same for the same seed. */
export function drawRequestLengths(d: LengthDistribution, n: number, seed: number): RequestLength[] {
  const rng = new Rng(seed)
  return Array.from({ length: n }, () => ({
    prompt: logNormal(rng, d.promptMean, d.sigma, d.promptRange),
    output: logNormal(rng, d.outputMean, d.sigma, d.outputRange)
  }))
}
