import { layerAhead, type Prefetcher, prefetchEach } from "./prefetcher.ts"

/**
 * Fixed step S: at layer l's gate, prefetch the predicted experts of layer l + S (continuing into
 * the next step past the last layer).
 */
export function fixedStepPrefetcher(step: number, experts: number): Prefetcher {
  const out = new Uint16Array(experts)
  return {
    name: `fixed:${step}`,
    staticPredictions: true,
    onGate(host, s, l) {
      const target = layerAhead(host.stream, s, l, step)
      if (!target) return
      const n = host.predict(target[0], target[1], out)
      const flat = target[0] * host.stream.layers + target[1]
      prefetchEach(host, target[1], out, n, flat)
    }
  }
}
