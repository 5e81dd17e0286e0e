/**
 * Steps: what the GPU runs in one forward pass. `buildSteps` forms them by continuous batching:
 * B slots; each step every occupied slot contributes its request's next token (a request that has
 * prefill tokens contributes all of them in its first step, as one chunk); a request that finishes
 * frees its slot, and the next waiting request (trace order) takes it at the next step.
 *
 * `AccessStream` is what the replay reads: for each (step, layer) the distinct experts the step
 * needs, in first-use order (token order, then the router's order), and how many of the step's
 * tokens each serves. One access = one (step, layer, expert): with B = 1 that is one access per
 * listed expert, the order libCacheSim sees. Gaps are skipped and counted in `unknownCells`.
 */
import { requestRanges, type Trace } from "./trace.ts"

export interface AccessStream {
  readonly layers: number
  readonly experts: number
  readonly steps: number
  /** steps × layers + 1 offsets into keys/counts. */
  readonly offsets: Int32Array
  /** Expert id of each access (the cache key is layer · E + expert). */
  readonly keys: Uint16Array
  /** Tokens served by each access; null means 1 everywhere (16-bit while no step has 65,536 tokens). */
  readonly counts: Uint16Array | Int32Array | null
  /** The most tokens one access serves (1 when counts is null). */
  readonly maxCount: number
  /** steps + 1 offsets into stepTokens. */
  readonly stepTokenOffsets: Int32Array
  /** Trace token indices of each step, in slot order. */
  readonly stepTokens: Int32Array
  /** (token, layer) cells with no recorded routing. */
  readonly unknownCells: number
  readonly accesses: number
  /**
   * Per (step, layer), the accesses in order of their last listing (`duplicates=refresh`): the
   * order in which repeats leave recency. Null when every access is listed once (or not asked).
   */
  readonly lastUseOrder: Int32Array | null
}

export interface StreamOptions {
  /** A request's prompt as one step ("chunk", the default) or one token per step. */
  readonly prefill?: "chunk" | "token"
  /** Build `lastUseOrder` (for `duplicates=refresh`). */
  readonly lastUseOrder?: boolean
}

export function buildSteps(
  t: Trace,
  batchSize: number,
  prefill: "chunk" | "token" = "chunk"
): { offsets: Int32Array; tokens: Int32Array } {
  const reqs = requestRanges(t)
  const offsets: number[] = [0]
  const tokens = new Int32Array(t.tokens)
  let n = 0
  const slots: Array<{ next: number; end: number } | null> = new Array(batchSize).fill(null)
  let waiting = 0
  for (;;) {
    for (let s = 0; s < batchSize; s++) {
      if (slots[s] === null && waiting < reqs.length) {
        const r = reqs[waiting++]!
        slots[s] = { next: r.start, end: r.end }
      }
    }
    if (slots.every((s) => s === null)) break
    for (let s = 0; s < batchSize; s++) {
      const slot = slots[s]
      if (!slot) continue
      // A prefill chunk: the request's leading prefill tokens together.
      let take = 1
      if (t.phase && prefill === "chunk" && t.phase[slot.next] === 1) {
        while (slot.next + take < slot.end && t.phase[slot.next + take] === 1) take++
      }
      for (let i = 0; i < take; i++) tokens[n++] = slot.next + i
      slot.next += take
      if (slot.next >= slot.end) slots[s] = null
    }
    offsets.push(n)
  }
  return { offsets: Int32Array.from(offsets), tokens }
}

/** The access stream of `t`, batched by `buildSteps` unless steps are given (e.g. by a token scheduler). */
export function buildAccessStream(
  t: Trace,
  batchSize = 1,
  given?: { offsets: Int32Array; tokens: Int32Array },
  options: StreamOptions = {}
): AccessStream {
  const { layers: L, experts: E, topK: K } = t.model
  const steps = given ?? buildSteps(t, batchSize, options.prefill)
  const S = steps.offsets.length - 1
  let unknown = 0
  for (let i = 0; i < t.present.length; i++) if (t.present[i] === 0) unknown++
  const oneTokenSteps = S === t.tokens
  if (oneTokenSteps && unknown === 0) {
    // Zero-copy: each step is one token with all K experts; the trace's expert column is the stream.
    const offsets = new Int32Array(S * L + 1)
    for (let i = 0; i <= S * L; i++) offsets[i] = i * K
    return {
      layers: L,
      experts: E,
      steps: S,
      offsets,
      keys: reorder(t, steps.tokens),
      counts: null,
      maxCount: 1,
      stepTokenOffsets: steps.offsets,
      stepTokens: steps.tokens,
      unknownCells: 0,
      accesses: S * L * K,
      lastUseOrder: null
    }
  }
  const offsets = new Int32Array(S * L + 1)
  // Room for every listing (repeats included), so nothing grows; the stream is a view of it.
  const room = Math.max(16, steps.tokens.length * L * K)
  let widest = 0
  for (let s = 0; s < S; s++) widest = Math.max(widest, steps.offsets[s + 1]! - steps.offsets[s]!)
  // In shared memory: a worker thread of the run reads the stream in place (workflows/workerRelay.ts).
  const keys = new Uint16Array(new SharedArrayBuffer(2 * room))
  const counts =
    widest * K < 0x10000
      ? new Uint16Array(new SharedArrayBuffer(2 * room))
      : new Int32Array(new SharedArrayBuffer(4 * room))
  // Each expert's latest access: one of this cell's when it is at or past the cell's first.
  const slotOf = new Int32Array(E).fill(-1)
  // Position of each access's last listing, when the last-use order is asked for (a walk of its own).
  const lastPos = options.lastUseOrder ? new Int32Array(room) : null
  // Locals: the hot loop reads no object field.
  const present = t.present,
    experts = t.experts,
    stepOffsets = steps.offsets,
    stepTokens = steps.tokens
  let n = 0,
    listed = 0,
    maxCount = 1
  for (let s = 0; s < S; s++) {
    const t0 = stepOffsets[s]!,
      t1 = stepOffsets[s + 1]!
    for (let l = 0; l < L; l++) {
      const first = n
      offsets[s * L + l] = n
      for (let ti = t0; ti < t1; ti++) {
        const cell = stepTokens[ti]! * L + l
        if (present[cell] === 0) continue
        listed += K
        // Without branches (whether an expert repeats in a cell is a coin toss to the CPU): a new
        // expert takes slot n with count 1, a repeat adds 1 to its slot's count.
        for (let j = cell * K, j1 = j + K; j < j1; j++) {
          const e = experts[j]!
          const at = slotOf[e]!
          const fresh = (at - first) >>> 31 // 1 when its latest access is before this cell
          const slot = at + fresh * (n - at)
          const c = counts[slot]! * (1 - fresh) + 1
          counts[slot] = c
          keys[slot] = e
          slotOf[e] = slot
          n += fresh
          if (c > maxCount) maxCount = c
        }
      }
    }
  }
  offsets[S * L] = n
  const repeats = listed - n
  let lastUseOrder: Int32Array | null = null
  if (lastPos && repeats > 0) {
    // Each access's last listing: the same walk again, handing out the same slots in the same order.
    slotOf.fill(-1)
    let m = 0,
      listing = 0
    for (let s = 0; s < S; s++)
      for (let l = 0; l < L; l++) {
        const first = m
        for (let ti = stepOffsets[s]!; ti < stepOffsets[s + 1]!; ti++) {
          const cell = stepTokens[ti]! * L + l
          if (present[cell] === 0) continue
          for (let j = cell * K, j1 = j + K; j < j1; j++) {
            const e = experts[j]!
            listing++
            if (slotOf[e]! < first) slotOf[e] = m++
            lastPos[slotOf[e]!] = listing
          }
        }
      }
    lastUseOrder = new Int32Array(n)
    for (let cell = 0; cell < S * L; cell++) {
      const from = offsets[cell]!,
        to = offsets[cell + 1]!
      const idx = Array.from({ length: to - from }, (_, j) => from + j).sort((x, y) => lastPos![x]! - lastPos![y]!)
      lastUseOrder.set(idx, from)
    }
  }
  return {
    layers: L,
    experts: E,
    steps: S,
    offsets,
    keys: keys.subarray(0, n),
    counts: counts.subarray(0, n),
    maxCount,
    stepTokenOffsets: steps.offsets,
    stepTokens: steps.tokens,
    unknownCells: unknown,
    accesses: n,
    lastUseOrder
  }
}

/** The expert column in step order; a view when steps are the stored token order. */
function reorder(t: Trace, order: Int32Array): Uint16Array {
  const { layers: L, topK: K } = t.model
  let identity = true
  for (let i = 0; i < order.length && identity; i++) identity = order[i] === i
  if (identity) return t.experts
  const out = new Uint16Array(t.experts.length)
  const row = L * K
  for (let i = 0; i < order.length; i++) out.set(t.experts.subarray(order[i]! * row, (order[i]! + 1) * row), i * row)
  return out
}
