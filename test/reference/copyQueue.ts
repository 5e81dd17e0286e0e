// FROZEN REFERENCE (test only): the engine as it was before its hot paths were indexed. It is the
// oracle of test/indexedEngine.test.ts; never edit it to follow sim/, or the equivalence proves nothing.
/**
 * The H2D link: FIFO copy queues served by `engines` copy engines. Demand loads wait in their own
 * queue, served before any prefetch that has not started; a transfer that has started is never
 * preempted (real DMA). Starts are committed lazily, up to the time the caller has reached:
 * `advanceTo(t)` starts what would start strictly before t, so a demand issued at t still goes
 * ahead of a prefetch that would start at t.
 */
export interface TransferSink {
  onStart(key: number, start: number, end: number, engine: number, demand: boolean): void
}

const NONE = 0,
  DEMAND = 1,
  PREFETCH = 2

class Fifo {
  keys: number[] = []
  seqs: number[] = []
  ready: number[] = []
  head = 0
  push(key: number, seq: number, ready: number): void {
    this.keys.push(key)
    this.seqs.push(seq)
    this.ready.push(ready)
  }
  compact(): void {
    if (this.head > 1024 && this.head * 2 > this.keys.length) {
      this.keys = this.keys.slice(this.head)
      this.seqs = this.seqs.slice(this.head)
      this.ready = this.ready.slice(this.head)
      this.head = 0
    }
  }
}

export class CopyQueue {
  private readonly free: Float64Array
  private readonly demand = new Fifo()
  private readonly prefetch = new Fifo()
  /** Which queue holds the key's live entry, and that entry's sequence number. */
  private readonly where: Uint8Array
  private readonly seq: Int32Array
  private nextSeq = 1

  /**
   * `durNs`: one transfer's time; with `durOfLayer` (experts of different sizes), a key of layer
   * ⌊key / experts⌋ takes that layer's time instead.
   */
  constructor(
    numKeys: number,
    engines: number,
    private readonly durNs: number,
    private readonly sink: TransferSink,
    private readonly durOfLayer: Float64Array | null = null,
    private readonly experts = 1
  ) {
    this.free = new Float64Array(engines)
    this.where = new Uint8Array(numKeys)
    this.seq = new Int32Array(numKeys)
  }

  enqueue(key: number, readyAt: number, demand: boolean): void {
    const s = this.nextSeq++
    this.where[key] = demand ? DEMAND : PREFETCH
    this.seq[key] = s
    ;(demand ? this.demand : this.prefetch).push(key, s, readyAt)
  }

  /** A queued prefetch became needed now: move it to the demand queue. */
  promote(key: number, t: number): void {
    if (this.where[key] === PREFETCH) this.enqueue(key, t, true)
  }

  /** Drop a queued (not started) transfer. */
  cancel(key: number): void {
    this.where[key] = NONE
  }

  /** The most recently queued prefetch whose key passes `ok`, or -1. */
  newestPrefetch(ok: (key: number) => boolean): number {
    const q = this.prefetch
    for (let i = q.keys.length - 1; i >= q.head; i--) {
      const k = q.keys[i]!
      if (this.where[k] === PREFETCH && this.seq[k] === q.seqs[i] && ok(k)) return k
    }
    return -1
  }

  /** Commit every start that happens strictly before t. */
  advanceTo(t: number): void {
    while (this.startNext(t)) {
      /* keep starting */
    }
  }

  /** Start transfers in queue order until `key` has started (the caller is blocked waiting on it). */
  startUntil(key: number): void {
    while (this.where[key] !== NONE) {
      if (!this.startNext(Infinity)) throw new Error(`copy queue: key ${key} is not queued`)
    }
  }

  private live(q: Fifo, kind: number): boolean {
    while (q.head < q.keys.length) {
      const k = q.keys[q.head]!
      if (this.where[k] === kind && this.seq[k] === q.seqs[q.head]) return true
      q.head++
    }
    q.compact()
    return false
  }

  private startNext(limit: number): boolean {
    const isDemand = this.live(this.demand, DEMAND)
    const q = isDemand ? this.demand : this.prefetch
    if (!isDemand && !this.live(this.prefetch, PREFETCH)) return false
    let e = 0
    for (let i = 1; i < this.free.length; i++) if (this.free[i]! < this.free[e]!) e = i
    const start = Math.max(this.free[e]!, q.ready[q.head]!)
    if (start >= limit) return false
    const key = q.keys[q.head++]!
    const end = start + (this.durOfLayer ? this.durOfLayer[Math.floor(key / this.experts)]! : this.durNs)
    this.free[e] = end
    this.where[key] = NONE
    this.sink.onStart(key, start, end, e, isDemand)
    return true
  }
}
