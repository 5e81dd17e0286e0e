import type { AccessStream } from "../traces/batching.ts"

/** What the engine offers a prefetcher. */
export interface PrefetchHost {
  readonly stream: AccessStream
  /** Predict (step, layer) with the run's predictor; the engine scores every prediction. */
  predict(step: number, layer: number, out: Uint16Array): number
  /** The predictor's probability per expert for (step, layer), when it has one; else false. */
  distribution(step: number, layer: number, out: Float64Array): boolean
  /** Queue a load of `expert` at `layer` ahead of use, for the layer `targetFlat` (step · L + layer). False if cached,
   * on its way, or no slot may be taken. */
  prefetch(layer: number, expert: number, targetFlat: number): boolean
  /** `prefetch(layer, experts[i], targetFlat)` for i < n in order, answers ignored (optional: a host may skip what it
   * knows will be refused; see prefetchEach). */
  prefetchEach?(layer: number, experts: Uint16Array, n: number, targetFlat: number): void
  /** Is the expert resident or on its way? */
  cached(layer: number, expert: number): boolean
  /** H2D time of one expert (latency + bytes / bandwidth) under the run's profile. */
  readonly transferNs: number
  /** Compute time per layer observed so far in this run (ns; an estimate before the first layer). */
  observedLayerNs(): number
  /** Counters for feedback: experts the compute stream waited for, and prefetches wasted. */
  stallEvents(): number
  wastedPrefetches(): number
  /** Record a value over time (e.g. the prefetch step S): goes to the timeline and the result. */
  trace(name: string, value: number): void
}

/** Decides when and how far ahead to prefetch. */
export interface Prefetcher {
  readonly name: string
  /**
   * It predicts only from onStepStart and onGate, and which targets it asks for there depends
   * only on the step and layer, never on the host's answers: the whole sequence of predictions is
   * known before the replay, so it can be computed on another thread (workflows/predictAhead.ts).
   */
  readonly staticPredictions?: boolean
  /** Before the first layer of a step runs. */
  onStepStart?(host: PrefetchHost, step: number): void
  /** At the gate of every (step, layer), after the layer's demand loads were queued. */
  onGate(host: PrefetchHost, step: number, layer: number): void
  /** An expert's FFN finished. */
  onExpertDone?(host: PrefetchHost, step: number, layer: number, expert: number): void
  /** Every expert of the layer finished. */
  onLayerEnd?(host: PrefetchHost, step: number, layer: number): void
}

/** The (step, layer) `distance` layers after (step, layer), continuing into the next step. */
export function layerAhead(a: AccessStream, step: number, layer: number, distance: number): [number, number] | null {
  const flat = step * a.layers + layer + distance
  const s = Math.floor(flat / a.layers)
  return s < a.steps ? [s, flat % a.layers] : null
}

/** Prefetch experts[0, n) of `layer` for `targetFlat`, in order: through the host's own loop where it has one. */
export function prefetchEach(host: PrefetchHost, layer: number, experts: Uint16Array, n: number, targetFlat: number) {
  if (host.prefetchEach) host.prefetchEach(layer, experts, n, targetFlat)
  else for (let i = 0; i < n; i++) host.prefetch(layer, experts[i]!, targetFlat)
}
