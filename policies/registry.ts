/**
 * Every policy by name: the one place that maps spec words to implementations.
 * Add a policy: write its file, register it here.
 */
import { UsageError } from "../base/errors.ts"
import type { CacheGeometry } from "./cacheGeometry.ts"
import type { AccessStream } from "../traces/batching.ts"
import { activationAwarePredictor } from "./activationAware.ts"
import { adaptivePrefetcher } from "./adaptiveStep.ts"
import { allExpertsPredictor } from "./allExperts.ts"
import { BeladyPolicy } from "./belady.ts"
import type { EvictionContext, EvictionPolicy } from "./evictionPolicy.ts"
import { FifoPolicy } from "./fifo.ts"
import { fixedStepPrefetcher } from "./fixedStep.ts"
import { hybridForestPredictor, trainHybridFold } from "./hybridForest.ts"
import { hybridFusionPredictor } from "./hybridFusion.ts"
import { LfuPolicy } from "./lfu.ts"
import { LruPolicy } from "./lru.ts"
import { onnxPredictor } from "./onnxPredictor.ts"
import { oraclePredictor } from "./oracle.ts"
import { PinnedPolicy } from "./pinned.ts"
import { pathPrefetcher } from "./plec.ts"
import { popularityPredictor } from "./popularity.ts"
import type { Predictor, PredictorContext } from "./predictor.ts"
import type { Prefetcher } from "./prefetcher.ts"
import { pregatePredictor } from "./pregate.ts"
import { previousLayerPredictor } from "./previousLayer.ts"
import { previousTokenPredictor } from "./previousToken.ts"
import { ProtectedLruPolicy } from "./protectedLru.ts"
import { RingPolicy } from "./ring.ts"
import { recordedPredictor, routePathPredictor } from "./routePath.ts"
import { numericArgs, type PolicySpec } from "./spec.ts"
import { transitionPredictor } from "./transition.ts"
import { windowPrefetcher } from "./window.ts"

export interface EvictionInfo {
  make: (ctx: EvictionContext, args: ReadonlyArray<string>, spec: string) => EvictionPolicy
  /** Usable in cache-only mode (no time, no prefetcher hooks). */
  cacheOnly: boolean
}
export const evictionPolicies: Record<string, EvictionInfo> = {
  lru: { make: (ctx) => new LruPolicy(ctx), cacheOnly: true },
  lfu: { make: (ctx) => new LfuPolicy(ctx), cacheOnly: true },
  fifo: { make: (ctx) => new FifoPolicy(ctx), cacheOnly: true },
  belady: { make: (ctx) => new BeladyPolicy(ctx), cacheOnly: true },
  "two-level-lru": {
    make: (ctx, args, spec) =>
      new ProtectedLruPolicy(
        "two-level-lru",
        ctx,
        numericArgs(args, { recent: ctx.layers }, `policy spec '${spec}' (cache=two-level-lru)`).recent
      ),
    cacheOnly: false
  },
  plec: { make: (ctx) => new ProtectedLruPolicy("plec", ctx, 0), cacheOnly: false },
  ring: { make: (ctx) => new RingPolicy(ctx), cacheOnly: false },
  pin: { make: (ctx) => new PinnedPolicy(ctx, ctx.pinned ?? new Uint8Array(ctx.numKeys)), cacheOnly: false }
}

export interface PredictorInfo {
  make: (ctx: PredictorContext) => Predictor
  learned: boolean
  /**
   * Train one fold alone, for `make` on another thread to adopt (ctx.foldsElsewhere): what to
   * send, and the buffers to move rather than copy.
   */
  trainFold?: (ctx: PredictorContext, fold: number) => { data: unknown; transfer: ArrayBuffer[] }
  /**
   * It counts transition tables (transition.ts): a worker answering ahead shares their blocks with
   * the replay's thread, which counts some while it waits (ctx.sharedBlocks).
   */
  countsTransitions?: boolean
}
export const predictors: Record<string, PredictorInfo> = {
  oracle: { make: oraclePredictor, learned: false },
  "prev-token": { make: previousTokenPredictor, learned: false },
  "prev-layer": { make: previousLayerPredictor, learned: false },
  transition: { make: transitionPredictor, learned: true, countsTransitions: true },
  popularity: { make: popularityPredictor, learned: true },
  pregate: { make: pregatePredictor, learned: false },
  hybrid: { make: hybridForestPredictor, learned: true, trainFold: trainHybridFold, countsTransitions: true },
  "hybrid-fusion": { make: hybridFusionPredictor, learned: true, countsTransitions: true },
  "route-path": { make: routePathPredictor, learned: true },
  recorded: { make: recordedPredictor, learned: false },
  eam: { make: activationAwarePredictor, learned: true },
  all: { make: allExpertsPredictor, learned: false },
  onnx: { make: onnxPredictor, learned: false }
}

export interface PrefetcherContext {
  readonly layers: number
  readonly experts: number
  readonly topK: number
  readonly slots: number
}
const positiveInt = (v: string | undefined, max: number, spec: string, what: string): number => {
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1 || n > max)
    throw new UsageError(`policy spec '${spec}': ${what} needs an integer 1 ≤ N ≤ ${max}`)
  return n
}
export const prefetchers: Record<
  string,
  (args: ReadonlyArray<string>, ctx: PrefetcherContext, spec: string) => Prefetcher | null
> = {
  none: () => null,
  fixed: (args, ctx, spec) => fixedStepPrefetcher(positiveInt(args[0], ctx.layers - 1, spec, "fixed:S"), ctx.experts),
  window: (args, ctx, spec) => windowPrefetcher(positiveInt(args[0], ctx.layers - 1, spec, "window:K"), ctx.experts),
  adaptive: (args, ctx, spec) => adaptivePrefetcher(args, ctx.layers, ctx.experts, ctx.topK, spec),
  path: (_args, ctx) => pathPrefetcher(ctx.layers, ctx.experts, ctx.slots)
}

export const schedulers = ["none", "ts"] as const

/** An eviction policy for a replay of `stream` with cache layout `g`. */
export function makeEviction(
  name: string,
  args: ReadonlyArray<string>,
  stream: AccessStream,
  g: CacheGeometry,
  pinned?: Uint8Array,
  spec = name,
  /** The caller reports every (un)blocking, so policies may index blocked keys (timed replays). */
  notifiesBlocking = false
): EvictionPolicy {
  return evictionPolicies[name]!.make(evictionContext(stream, g, pinned, notifiesBlocking), args, spec)
}

/** What an eviction policy is told of the cache it runs. */
export function evictionContext(
  stream: AccessStream,
  g: CacheGeometry,
  pinned?: Uint8Array,
  notifiesBlocking = false
): EvictionContext {
  return {
    notifiesBlocking,
    numKeys: stream.layers * stream.experts,
    capacities: g.capacities,
    maxKeys: g.maxKeys,
    unitOfLayer: g.unitOfLayer,
    layers: stream.layers,
    experts: stream.experts,
    accesses: stream.accesses,
    ...(pinned ? { pinned } : {})
  }
}

/** Check a spec's words against the registry (no trace needed). */
export function checkSpec(spec: PolicySpec): void {
  const known = (kind: string, name: string, table: object) => {
    if (!(name in table))
      throw new UsageError(
        `policy spec '${spec.text}': unknown ${kind} '${name}' (known: ${Object.keys(table).join(", ")})`
      )
  }
  known("cache", spec.cache, evictionPolicies)
  known("prefetch", spec.prefetch, prefetchers)
  if (spec.predictor !== null) known("predictor", spec.predictor, predictors)
  if (!(schedulers as readonly string[]).includes(spec.scheduler))
    throw new UsageError(
      `policy spec '${spec.text}': unknown scheduler '${spec.scheduler}' (known: ${schedulers.join(", ")})`
    )
  if (spec.prefetch !== "none" && spec.predictor === null)
    throw new UsageError(
      `policy spec '${spec.text}': prefetch=${spec.prefetch} needs predictor=... ` +
        `(${Object.keys(predictors).join(", ")})`
    )
}
