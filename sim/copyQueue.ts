/**
 * The H2D link: FIFO copy queues served by `engines` copy engines. Demand loads wait in their own
 * queue, served before any prefetch that has not started; a transfer that has started is never
 * preempted (real DMA). Starts are committed lazily, up to the time the caller has reached:
 * `advanceTo(t)` starts what would start strictly before t, so a demand issued at t still goes
 * ahead of a prefetch that would start at t.
 */
import { EntryQueue } from "../policies/structures/entryQueue.ts"

export interface TransferSink {
  onStart(key: number, start: number, end: number, engine: number, demand: boolean): void
}

const NONE = 0,
  DEMAND = 1,
  PREFETCH = 2

/** A group's queued prefetches, oldest at 0, as (key, seq) pairs. */
interface Stack {
  keys: Int32Array
  seqs: Int32Array
  size: number
}

export class CopyQueue {
  private readonly free: Float64Array
  private readonly demand = new EntryQueue()
  private readonly prefetch = new EntryQueue()
  /** Which queue holds the key's live entry, and that entry's sequence number. */
  private readonly where: Uint8Array
  private readonly seq: Int32Array
  private nextSeq = 1
  /**
   * Queued prefetches per cache group when there are several, newest on top, as (key, seq) pairs;
   * entries that died (started, cancelled, promoted) are popped lazily, so finding the newest live
   * one is amortized O(1) instead of a scan of the whole queue. A full stack drops its dead entries
   * before it grows, so its room stays within four times the most entries ever live in it at once
   * (a run that never asks for the newest would otherwise keep every prefetch it ever queued).
   * One group (a unified cache) needs none: its stack would be the prefetch queue itself, read
   * from the newest end, where dead entries are popped the same way.
   */
  private readonly stacks: Stack[] | null

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
    private readonly experts = 1,
    /** Cache group of each layer (sizes the per-group prefetch stacks); null: one group. */
    groupOfLayer: Int32Array | null = null
  ) {
    this.free = new Float64Array(engines)
    this.where = new Uint8Array(numKeys)
    this.seq = new Int32Array(numKeys)
    const groups = groupOfLayer ? Math.max(...groupOfLayer) + 1 : 1
    this.stacks =
      groups > 1
        ? Array.from({ length: groups }, () => ({ keys: new Int32Array(8), seqs: new Int32Array(8), size: 0 }))
        : null
  }

  /** Queue `key` from `readyAt`; `group`: its cache group (where a prefetch's stack is). */
  enqueue(key: number, readyAt: number, demand: boolean, group: number): void {
    const s = this.nextSeq++
    this.where[key] = demand ? DEMAND : PREFETCH
    this.seq[key] = s
    ;(demand ? this.demand : this.prefetch).push(key, s, readyAt)
    if (!demand && this.stacks) {
      const st = this.stacks[group]!
      if (st.size === st.keys.length) this.makeRoom(st)
      st.keys[st.size] = key
      st.seqs[st.size++] = s
    }
  }

  private isLive(st: Stack, i: number): boolean {
    const k = st.keys[i]!
    return this.where[k] === PREFETCH && this.seq[k] === st.seqs[i]
  }

  /**
   * Room on a full stack. Prefetches start oldest first, so the dead entries are mostly at the
   * bottom: drop those and slide the rest down when that frees half the room, else compact.
   */
  private makeRoom(st: Stack): void {
    let bottom = 0
    while (bottom < st.size && !this.isLive(st, bottom)) bottom++
    if (2 * bottom >= st.keys.length) {
      st.keys.copyWithin(0, bottom, st.size)
      st.seqs.copyWithin(0, bottom, st.size)
      st.size -= bottom
    } else this.compact(st)
  }

  /** Keep a stack's live entries, in order; double it if they fill more than half. */
  private compact(st: Stack): void {
    let n = 0
    for (let i = 0; i < st.size; i++) {
      if (!this.isLive(st, i)) continue
      st.keys[n] = st.keys[i]!
      st.seqs[n++] = st.seqs[i]!
    }
    st.size = n
    if (2 * n > st.keys.length) {
      const keys = new Int32Array(st.keys.length * 2),
        seqs = new Int32Array(st.keys.length * 2)
      keys.set(st.keys.subarray(0, n))
      seqs.set(st.seqs.subarray(0, n))
      st.keys = keys
      st.seqs = seqs
    }
  }

  /** A queued prefetch became needed now: move it to the demand queue. */
  promote(key: number, t: number): void {
    if (this.where[key] === PREFETCH) this.enqueue(key, t, true, -1) // a demand load has no stack
  }

  /** Drop a queued (not started) transfer. */
  cancel(key: number): void {
    this.where[key] = NONE
  }

  /** The most recently queued prefetch of cache group `group` that has not started, or -1. */
  newestPrefetch(group: number): number {
    if (!this.stacks) {
      const q = this.prefetch
      for (; q.tail > q.head; q.tail--) if (this.liveAt(q, q.tail - 1, PREFETCH)) return q.keys[q.tail - 1]!
      return -1
    }
    const st = this.stacks[group]!
    for (; st.size > 0; st.size--) if (this.isLive(st, st.size - 1)) return st.keys[st.size - 1]!
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

  /** Does entry i of queue q (demand or prefetch: `kind`) still stand for its key's transfer? */
  private liveAt(q: EntryQueue, i: number, kind: number): boolean {
    const k = q.keys[i]!
    return this.where[k] === kind && this.seq[k] === q.ids[i]
  }

  private live(q: EntryQueue, kind: number): boolean {
    for (; q.head < q.tail; q.head++) if (this.liveAt(q, q.head, kind)) return true
    return false
  }

  private startNext(limit: number): boolean {
    const isDemand = this.live(this.demand, DEMAND)
    const q = isDemand ? this.demand : this.prefetch
    if (!isDemand && !this.live(this.prefetch, PREFETCH)) return false
    let e = 0
    for (let i = 1; i < this.free.length; i++) if (this.free[i]! < this.free[e]!) e = i
    const start = Math.max(this.free[e]!, q.times[q.head]!)
    if (start >= limit) return false
    const key = q.keys[q.head++]!
    const end = start + (this.durOfLayer ? this.durOfLayer[Math.floor(key / this.experts)]! : this.durNs)
    this.free[e] = end
    this.where[key] = NONE
    this.sink.onStart(key, start, end, e, isDemand)
    return true
  }
}
