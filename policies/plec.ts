/**
 * EF-H's predictive cache (arXiv 2410.17954 §3.4, Fig. 5): before a step's first layer, the
 * route predictor names every layer's experts; PLEC shares the slots across layers in proportion
 * to predicted demand (rounded down, the remaining slots to the earliest layers, never more than
 * a layer's demand), prefetches each layer's share most-probable first, and as experts finish,
 * their slots go to the later layers' still-pending predictions. Pair with `cache=plec`, whose
 * eviction protects predicted experts, demotes an expert once its layer is done, and demotes a
 * predicted expert its layer did not need (run-time correction; a missed expert is a demand load,
 * which is already the highest priority).
 */
import type { Prefetcher, PrefetchHost } from "./prefetcher.ts"

/** Slots per layer for predicted demands `demand` under `budget` slots. */
export function plecAllocation(demand: ReadonlyArray<number>, budget: number): number[] {
  const total = demand.reduce((a, b) => a + b, 0)
  if (total <= budget) return [...demand]
  const alloc = demand.map((d) => Math.floor((budget * d) / total))
  let left = budget - alloc.reduce((a, b) => a + b, 0)
  for (let l = 0; l < demand.length && left > 0; l++) {
    const add = Math.min(left, demand[l]! - alloc[l]!)
    alloc[l]! += add
    left -= add
  }
  return alloc
}

export function pathPrefetcher(layers: number, experts: number, slots: number): Prefetcher {
  /** The step's predictions: layer l's at [l · experts, l · experts + sizes[l]). */
  const sets = new Uint16Array(layers * experts)
  const views = Array.from({ length: layers }, (_, l) => sets.subarray(l * experts, (l + 1) * experts))
  const sizes = new Array<number>(layers).fill(0)
  /** Pending predictions of the current step from `head` on, in order: layer and expert. */
  let pendingLayer = new Int32Array(64),
    pendingExpert = new Int32Array(64)
  let head = 0,
    tail = 0
  const push = (l: number, e: number) => {
    if (tail === pendingLayer.length) {
      const nl = new Int32Array(tail * 2),
        ne = new Int32Array(tail * 2)
      nl.set(pendingLayer)
      ne.set(pendingExpert)
      pendingLayer = nl
      pendingExpert = ne
    }
    pendingLayer[tail] = l
    pendingExpert[tail++] = e
  }
  let step = 0
  const drain = (host: PrefetchHost) => {
    for (; head < tail; head++) {
      const l = pendingLayer[head]!,
        e = pendingExpert[head]!
      if (host.cached(l, e)) continue
      if (!host.prefetch(l, e, step * layers + l)) break
    }
  }
  return {
    name: "path",
    // Every layer of a step at its start, whatever the drains find.
    staticPredictions: true,
    onStepStart(host, s) {
      step = s
      for (let l = 0; l < layers; l++) sizes[l] = host.predict(s, l, views[l]!)
      const alloc = plecAllocation(sizes, slots)
      head = 0
      tail = 0
      // Each layer's share first; what did not fit waits for slots freed as experts finish.
      for (let l = 0; l < layers; l++)
        for (let i = 0; i < sizes[l]! && i < alloc[l]!; i++) push(l, sets[l * experts + i]!)
      drain(host)
      // The shares' undrained rest stays ahead of the later predictions, as before.
      for (let l = 0; l < layers; l++) for (let i = alloc[l]!; i < sizes[l]!; i++) push(l, sets[l * experts + i]!)
    },
    onGate(host) {
      drain(host)
    },
    onExpertDone(host) {
      drain(host)
    }
  }
}
