/**
 * Every policy by name: the one place that maps spec words to implementations.
 * Add a policy: write its file, register it here.
 */
import { UsageError } from "../sim/errors.ts"
import { BeladyPolicy } from "./belady.ts"
import type { EvictionContext, EvictionPolicy } from "./evictionPolicy.ts"
import { FifoPolicy } from "./fifo.ts"
import { fixedStepPrefetcher } from "./fixedStep.ts"
import { LfuPolicy } from "./lfu.ts"
import { LruPolicy } from "./lru.ts"
import { oraclePredictor } from "./oracle.ts"
import { popularityPredictor } from "./popularity.ts"
import type { Predictor, PredictorContext } from "./predictor.ts"
import type { Prefetcher } from "./prefetcher.ts"
import { previousLayerPredictor } from "./previousLayer.ts"
import { previousTokenPredictor } from "./previousToken.ts"
import type { PolicySpec } from "./spec.ts"
import { transitionPredictor } from "./transition.ts"

export const evictionPolicies: Record<string, (ctx: EvictionContext, args: ReadonlyArray<string>) => EvictionPolicy> = {
  lru: (ctx) => new LruPolicy(ctx),
  lfu: (ctx) => new LfuPolicy(ctx),
  fifo: (ctx) => new FifoPolicy(ctx),
  belady: (ctx) => new BeladyPolicy(ctx)
}

export interface PredictorInfo { make: (ctx: PredictorContext) => Predictor; learned: boolean }
export const predictors: Record<string, PredictorInfo> = {
  oracle: { make: oraclePredictor, learned: false },
  "prev-token": { make: previousTokenPredictor, learned: false },
  "prev-layer": { make: previousLayerPredictor, learned: false },
  transition: { make: transitionPredictor, learned: true },
  popularity: { make: popularityPredictor, learned: true }
}

export interface PrefetcherContext { readonly layers: number; readonly experts: number }
export const prefetchers: Record<string, (args: ReadonlyArray<string>, ctx: PrefetcherContext, spec: string) => Prefetcher | null> = {
  none: () => null,
  fixed: (args, ctx, spec) => {
    const s = Number(args[0])
    if (!Number.isInteger(s) || s < 1 || s > ctx.layers - 1) throw new UsageError(`policy spec '${spec}': fixed:S needs 1 ≤ S ≤ ${ctx.layers - 1}`)
    return fixedStepPrefetcher(s, ctx.experts)
  }
}

/** Check a spec's words against the registry (no trace needed). */
export function checkSpec(spec: PolicySpec): void {
  const known = (kind: string, name: string, table: object) => {
    if (!(name in table)) throw new UsageError(`policy spec '${spec.text}': unknown ${kind} '${name}' (known: ${Object.keys(table).join(", ")})`)
  }
  known("cache", spec.cache, evictionPolicies)
  known("prefetch", spec.prefetch, prefetchers)
  if (spec.predictor !== null) known("predictor", spec.predictor, predictors)
  if (spec.prefetch !== "none" && spec.predictor === null) throw new UsageError(`policy spec '${spec.text}': prefetch=${spec.prefetch} needs predictor=... (${Object.keys(predictors).join(", ")})`)
}
