/**
 * Transition-table blocks (policies/transition.ts) in shared memory, each counted once by
 * whichever thread claims it first. The predict-ahead worker counts the blocks its queries need as
 * it reaches them; the replay's thread, rather than idle while it waits for the worker's answers,
 * counts blocks the worker will want later (`help`): the same fold and distances the worker last
 * asked for, from the last layer down while the worker goes up, then the other folds. Counts are
 * exact integers, so who counted a block never changes an answer.
 *
 * One buffer holds every block (ids × blockLength float64s); pages of blocks never counted are
 * never touched, so they cost address space, not memory.
 */
const FREE = 0,
  COUNTING = 1,
  DONE = 2
/** Hints: the fold the worker last asked a block of, and a bit per distance it has asked for. */
const FOLD = 0,
  DISTANCES = 1

export interface SharedBlockBuffers {
  readonly state: SharedArrayBuffer
  readonly maxCount: SharedArrayBuffer
  readonly data: SharedArrayBuffer
  readonly hints: SharedArrayBuffer
}

/** A store as sent to another thread (SharedBlocks.attach there). */
export interface SharedBlocksData {
  readonly folds: number
  readonly distances: number
  readonly layers: number
  readonly blockLength: number
  readonly buffers: SharedBlockBuffers
}

export class SharedBlocks {
  private readonly state: Int32Array
  private readonly maxCount: Float64Array
  private readonly hints: Int32Array
  readonly buffers: SharedBlockBuffers

  /** Blocks (fold · distances + d) · layers + l, each of blockLength float64s; `buffers` to attach to another's. */
  constructor(
    readonly folds: number,
    readonly distances: number,
    readonly layers: number,
    readonly blockLength: number,
    buffers?: SharedBlockBuffers
  ) {
    const ids = folds * distances * layers
    this.buffers = buffers ?? {
      state: new SharedArrayBuffer(4 * ids),
      maxCount: new SharedArrayBuffer(8 * ids),
      data: new SharedArrayBuffer(8 * ids * blockLength),
      hints: new SharedArrayBuffer(8)
    }
    this.state = new Int32Array(this.buffers.state)
    this.maxCount = new Float64Array(this.buffers.maxCount)
    this.hints = new Int32Array(this.buffers.hints)
  }

  /** This store, to send to another thread. */
  get data(): SharedBlocksData {
    const { folds, distances, layers, blockLength, buffers } = this
    return { folds, distances, layers, blockLength, buffers }
  }

  /** The store another thread sent (its `data`): the same blocks. */
  static attach(d: SharedBlocksData): SharedBlocks {
    return new SharedBlocks(d.folds, d.distances, d.layers, d.blockLength, d.buffers)
  }

  private view(id: number): Float64Array {
    return new Float64Array(this.buffers.data, 8 * id * this.blockLength, this.blockLength)
  }

  /**
   * Block `id`, counted here by `count` (which fills it and returns its largest count) unless the
   * other thread claimed it first: then once that thread is done. Records the ask as a hint.
   */
  take(id: number, count: (out: Float64Array) => number): { block: Float64Array; max: number } {
    const perFold = this.distances * this.layers
    Atomics.store(this.hints, FOLD, Math.floor(id / perFold))
    Atomics.or(this.hints, DISTANCES, 1 << Math.floor((id % perFold) / this.layers))
    if (Atomics.compareExchange(this.state, id, FREE, COUNTING) === FREE) this.publish(id, count)
    while (Atomics.load(this.state, id) !== DONE) Atomics.wait(this.state, id, COUNTING, 1000)
    return { block: this.view(id), max: this.maxCount[id]! }
  }

  private publish(id: number, count: (out: Float64Array) => number): void {
    this.maxCount[id] = count(this.view(id))
    Atomics.store(this.state, id, DONE)
    Atomics.notify(this.state, id)
  }

  /**
   * Count one block the other thread is likely to want (see the class comment): `count(out, fold,
   * d, l)`. False when there is none: no hint yet, or every such block is claimed.
   */
  help(count: (out: Float64Array, fold: number, d: number, l: number) => number): boolean {
    const mask = Atomics.load(this.hints, DISTANCES)
    if (mask === 0) return false
    const first = Atomics.load(this.hints, FOLD)
    for (let i = 0; i < this.folds; i++) {
      const fold = (first + i) % this.folds
      for (let l = this.layers - 1; l >= 0; l--)
        for (let d = 1; d < this.distances && l + d < this.layers; d++) {
          if ((mask & (1 << d)) === 0) continue
          const id = (fold * this.distances + d) * this.layers + l
          if (Atomics.load(this.state, id) !== FREE) continue
          if (Atomics.compareExchange(this.state, id, FREE, COUNTING) !== FREE) continue
          this.publish(id, (out) => count(out, fold, d, l))
          return true
        }
    }
    return false
  }
}
