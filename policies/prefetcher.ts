import type { AccessStream } from "../traces/batching.ts"

/** What the engine offers a prefetcher at a layer's gate. */
export interface PrefetchHost {
  readonly stream: AccessStream
  /** Predict (step, layer) with the run's predictor; the engine scores every prediction. */
  predict(step: number, layer: number, out: Uint16Array): number
  /** Queue a load of `expert` at `layer` ahead of use; false if cached/on its way or no slot is free. */
  prefetch(layer: number, expert: number): boolean
}

/** Decides when and how far ahead to prefetch. Called at the gate of every (step, layer). */
export interface Prefetcher {
  readonly name: string
  onGate(host: PrefetchHost, step: number, layer: number): void
}

/** The (step, layer) `distance` layers after (step, layer), continuing into the next step. */
export function layerAhead(a: AccessStream, step: number, layer: number, distance: number): [number, number] | null {
  const flat = step * a.layers + layer + distance
  const s = Math.floor(flat / a.layers)
  return s < a.steps ? [s, flat % a.layers] : null
}
