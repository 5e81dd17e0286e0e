/**
 * EF-A adaptive prefetch step S (arXiv 2510.26730, §"adaptive step size"; digest in
 * shared/research/papers.md §1.2).
 *
 *   S = clamp(⌈N_e · E_s / (C_s · T_l)⌉ + offset, 1, L − 1)
 *
 * - N_e: experts covering `mass` of the predictor's probability for the next layer (sorted,
 *   cumulative); for predictors without probabilities, the experts the current layer needed.
 * - Batch diversity raises N_e. The paper measures token-embedding distance; traces carry no
 *   embeddings, so the proxy is routing diversity: D = distinct experts / (k · tokens) at the
 *   current layer (1 = no two tokens share an expert), and N_e(batch) = N_e(token) · (1 + (tokens − 1) · D).
 * - E_s / C_s is the run's H2D time per expert; T_l is the compute time per layer observed so far.
 * - The formula's part is evaluated at the first layer of every step (the batch, hence its
 *   diversity, changes per step); the feedback offset moves S between layers.
 * - Feedback (the paper's two counters): over a window of `window` layers, ≥ `stall` experts that
 *   made compute wait raise S by one; else ≥ `waste` prefetches evicted unused lower it by one.
 *   The paper gives no thresholds; these defaults are ours.
 * S is traced over time (timeline counter "S", result field policy_detail.S).
 */
import { actualSet } from "./predictor.ts"
import type { Prefetcher, PrefetchHost } from "./prefetcher.ts"
import { numericArgs } from "./spec.ts"
import { Horizon } from "./window.ts"

export const ADAPTIVE_DEFAULTS = { mass: 0.9, window: 8, stall: 2, waste: 4 }

export function adaptivePrefetcher(
  args: ReadonlyArray<string>,
  layers: number,
  experts: number,
  topK: number,
  spec: string
): Prefetcher {
  const p = numericArgs(args, ADAPTIVE_DEFAULTS, `policy spec '${spec}' (prefetch=adaptive)`)
  const horizon = new Horizon(experts)
  const dist = new Float64Array(experts)
  const sorted = new Float64Array(experts)
  let offset = 0
  let windowStart = 0,
    stallsAt = 0,
    wasteAt = 0,
    seen = 0
  let S = 1
  let base = 1

  const expertsNeeded = (host: PrefetchHost, step: number, layer: number): number => {
    const a = host.stream
    const here = actualSet(a, step, layer).length
    const tokens = a.stepTokenOffsets[step + 1]! - a.stepTokenOffsets[step]!
    const diversity = Math.min(1, here / Math.max(1, topK * tokens))
    const next = step * layers + layer + 1
    const ns = Math.floor(next / layers),
      nl = next % layers
    let perToken = topK
    if (ns < a.steps && host.distribution(ns, nl, dist)) {
      sorted.set(dist)
      sorted.sort() // ascending, native: take from the top
      let cum = 0
      perToken = 0
      while (perToken < experts && cum < p.mass) cum += sorted[experts - 1 - perToken++]!
    } else if (tokens === 1) perToken = here
    return Math.min(experts, Math.ceil(perToken * (1 + (tokens - 1) * diversity)))
  }

  return {
    name: "adaptive",
    onGate(host, s, l) {
      if (l === 0) base = Math.ceil((expertsNeeded(host, s, l) * host.transferNs) / host.observedLayerNs())
      S = Math.max(1, Math.min(layers - 1, base + offset))
      host.trace("S", S)
      horizon.advance(host, s, l, S)
    },
    onLayerEnd(host) {
      const stalls = host.stallEvents() - stallsAt,
        waste = host.wastedPrefetches() - wasteAt
      if (stalls >= p.stall && S < layers - 1) offset++
      else if (waste >= p.waste && S > 1) offset--
      else if (++seen - windowStart < p.window) return
      windowStart = seen
      stallsAt = host.stallEvents()
      wasteAt = host.wastedPrefetches()
    }
  }
}
