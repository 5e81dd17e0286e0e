/**
 * The predictions a worker thread computes ahead of a replay (predictAhead.ts), in a ring of
 * `slots` entries over one SharedArrayBuffer: per entry the query (step, layer, curStep, curLayer),
 * the count and up to E expert ids. The worker waits while the ring is full, the replay while it
 * is empty; the header holds both positions and the worker's status.
 */
export const PRODUCED = 0,
  CONSUMED = 1,
  STATUS = 2
/** Worker status: building its predictor, predicting, or failed (the error is on the port). */
export const BUILDING = 0,
  READY = 1,
  FAILED = 2

export interface PredictionRing {
  readonly buffer: SharedArrayBuffer
  readonly slots: number
  readonly header: Int32Array
  readonly queries: Int32Array
  readonly counts: Int32Array
  readonly ids: Uint16Array
}

export function predictionRing(slots: number, experts: number, buffer?: SharedArrayBuffer): PredictionRing {
  const bytes = 4 * (8 + 5 * slots) + 2 * slots * experts
  const b = buffer ?? new SharedArrayBuffer(bytes)
  return {
    buffer: b,
    slots,
    header: new Int32Array(b, 0, 8),
    queries: new Int32Array(b, 32, 4 * slots),
    counts: new Int32Array(b, 32 + 16 * slots, slots),
    ids: new Uint16Array(b, 32 + 20 * slots, slots * experts)
  }
}
