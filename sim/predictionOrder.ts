/**
 * The predictions a replay will ask for, in order, without replaying: for a prefetcher with
 * static predictions (policies/prefetcher.ts), its onStepStart and onGate run in the engine's
 * order (engine.ts: every step's onStepStart at layer 0, then each layer's gate), against a host
 * that refuses every prefetch and holds nothing (its answers cannot change what is predicted).
 */
import type { AccessStream } from "../traces/batching.ts"
import type { Prefetcher, PrefetchHost } from "../policies/prefetcher.ts"

/** A predictor query: target (step, layer) as seen at the gate of (curStep, curLayer). */
export type Query = (step: number, layer: number, curStep: number, curLayer: number, out: Uint16Array) => number

export function forEachPrediction(prefetcher: Prefetcher, stream: AccessStream, predict: Query): void {
  if (!prefetcher.staticPredictions) throw new Error(`prefetcher ${prefetcher.name}: its predictions are not static`)
  let curStep = 0,
    curLayer = 0
  const host: PrefetchHost = {
    stream,
    transferNs: 0,
    predict: (step, layer, out) => predict(step, layer, curStep, curLayer, out),
    distribution: () => false,
    prefetch: () => false,
    cached: () => false,
    observedLayerNs: () => 0,
    stallEvents: () => 0,
    wastedPrefetches: () => 0,
    trace: () => {}
  }
  for (let s = 0; s < stream.steps; s++) {
    curStep = s
    curLayer = 0
    prefetcher.onStepStart?.(host, s)
    for (let l = 0; l < stream.layers; l++) {
      curLayer = l
      prefetcher.onGate(host, s, l)
    }
  }
}
