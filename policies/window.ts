import { type Prefetcher, type PrefetchHost, prefetchEach } from "./prefetcher.ts"

/**
 * A prefetch horizon: every layer within S layers ahead is predicted and prefetched once, when it
 * first enters the window (so a growing S covers the gap, a shrinking S issues nothing new until
 * the window moves past what was already covered).
 */
export class Horizon {
  /** Flat index (step · L + layer) of the farthest layer already covered. */
  private covered = -1
  private readonly out: Uint16Array
  constructor(experts: number) {
    this.out = new Uint16Array(experts)
  }

  advance(host: PrefetchHost, step: number, layer: number, S: number): void {
    const L = host.stream.layers
    const flat = step * L + layer
    const last = Math.min(flat + S, host.stream.steps * L - 1)
    for (let f = Math.max(this.covered + 1, flat + 1); f <= last; f++) {
      const s = Math.floor(f / L),
        m = f % L
      const n = host.predict(s, m, this.out)
      prefetchEach(host, m, this.out, n, f)
    }
    if (last > this.covered) this.covered = last
  }
}

/** `prefetch=window:K`: keep the next K layers' predicted experts loading (ProMoE-style stride, SE-MoE's ring with
 * predictor=all). */
export function windowPrefetcher(K: number, experts: number): Prefetcher {
  const horizon = new Horizon(experts)
  return { name: `window:${K}`, staticPredictions: true, onGate: (host, s, l) => horizon.advance(host, s, l, K) }
}
