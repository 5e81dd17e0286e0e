/**
 * The predictions a replay will ask for, in order, without replaying: for a prefetcher with
 * static predictions (policies/prefetcher.ts), its onStepStart and onGate run in the engine's
 * order (engine.ts: every step's onStepStart at layer 0, then each layer's gate), against a host
 * that refuses every prefetch and holds nothing (its answers cannot change what is predicted).
 */
import type { AccessStream } from "../traces/batching.ts"
import type { Predictor } from "../policies/predictor.ts"
import type { Prefetcher, PrefetchHost } from "../policies/prefetcher.ts"

/** A predictor query: target (step, layer) as seen at the gate of (curStep, curLayer). */
export type Query = (step: number, layer: number, curStep: number, curLayer: number, out: Uint16Array) => number

/** The queries of steps [from, to); successive ranges continue one sequence (the prefetcher keeps its state). */
export function forEachPrediction(
  prefetcher: Prefetcher,
  stream: AccessStream,
  predict: Query,
  from = 0,
  to = stream.steps
): void {
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
  for (let s = from; s < to; s++) {
    curStep = s
    curLayer = 0
    prefetcher.onStepStart?.(host, s)
    for (let l = 0; l < stream.layers; l++) {
      curLayer = l
      prefetcher.onGate(host, s, l)
    }
  }
}

/** Steps per chunk of forEachAnswer: enough for a table block to serve many steps while it is in cache. */
const CHUNK_STEPS = 64

/**
 * forEachPrediction's queries with `predictor`'s answers, handed to `emit` in the replay's order;
 * for an order-free predictor (policies/predictor.ts) answered a chunk of steps at a time, grouped
 * by (current layer, target layer): a table block (transition.ts) is read for many steps in a
 * row, while it is in cache, instead of once per pass over every layer's block. `ids` is valid
 * during the call.
 */
export function forEachAnswer(
  prefetcher: Prefetcher,
  stream: AccessStream,
  predictor: Predictor,
  emit: (step: number, layer: number, curStep: number, curLayer: number, ids: Uint16Array, n: number) => void,
  chunkSteps = CHUNK_STEPS
): void {
  const E = stream.experts,
    L = stream.layers
  if (!predictor.orderFree) {
    forEachPrediction(prefetcher, stream, (step, layer, curStep, curLayer, out) => {
      const n = predictor.predict(step, layer, curStep, curLayer, out)
      emit(step, layer, curStep, curLayer, out, n)
      return n
    })
    return
  }
  let room = 1024
  let queries = new Int32Array(4 * room),
    answers = new Uint16Array(room * E),
    counts = new Int32Array(room),
    order = new Int32Array(room)
  const first = new Int32Array(L * L + 1)
  for (let from = 0; from < stream.steps; from += chunkSteps) {
    let m = 0
    forEachPrediction(
      prefetcher,
      stream,
      (step, layer, curStep, curLayer) => {
        if (m === room) {
          room *= 2
          queries = grown(queries, 4 * room)
          answers = grown(answers, room * E)
          counts = new Int32Array(room)
          order = new Int32Array(room)
        }
        const at = 4 * m++
        queries[at] = step
        queries[at + 1] = layer
        queries[at + 2] = curStep
        queries[at + 3] = curLayer
        return 0 // static predictions: the answer cannot change what is asked next
      },
      from,
      Math.min(stream.steps, from + chunkSteps)
    )
    // Counting sort by (current layer, target layer), stable: within a pair, steps in order.
    first.fill(0)
    for (let i = 0; i < m; i++) first[queries[4 * i + 3]! * L + queries[4 * i + 1]! + 1]!++
    for (let k = 1; k <= L * L; k++) first[k]! += first[k - 1]!
    for (let i = 0; i < m; i++) order[first[queries[4 * i + 3]! * L + queries[4 * i + 1]!]!++] = i
    for (let j = 0; j < m; j++) {
      const i = order[j]!
      const at = 4 * i
      const out = answers.subarray(i * E, (i + 1) * E)
      counts[i] = predictor.predict(queries[at]!, queries[at + 1]!, queries[at + 2]!, queries[at + 3]!, out)
    }
    for (let i = 0; i < m; i++) {
      const at = 4 * i
      emit(queries[at]!, queries[at + 1]!, queries[at + 2]!, queries[at + 3]!, answers.subarray(i * E), counts[i]!)
    }
  }
}

function grown<T extends Int32Array | Uint16Array>(a: T, length: number): T {
  const b = new (a.constructor as new (n: number) => T)(length)
  b.set(a)
  return b
}
