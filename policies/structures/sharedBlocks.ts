/**
 * Transition-table blocks (policies/transition.ts) in shared memory, each counted once by
 * whichever thread claims it first. The predict-ahead worker counts the blocks its queries need as
 * it reaches them; the replay's thread, rather than idle while it waits for the worker's answers,
 * counts blocks the worker will want later (`help`): the same fold and distances the worker last
 * asked for, from the last layer down while the worker goes up, then the other folds; the
 * fold-training worker counts the replay's first fold from the last layer down (`countFromTop`).
 * Counts are exact integers, so who counted a block never changes an answer. A count that throws
 * frees its block for the next taker, who counts it again (and meets the same error) instead of
 * waiting for a thread that has stopped.
 *
 * The blocks live in one shared WebAssembly memory, so the kernels (structures/countKernels.ts)
 * read and write them where they are: block id at byte id · blockBytes, E rows of `stride` u32
 * counts (E padded for the kernels). Pages of blocks never counted are never touched, so they cost
 * address space, not memory. After the blocks, each table that counts or sums claims a workspace of
 * its own (`workspace`): its kept sums, a zero row, a row list and a few layers' bitset tables.
 */
import { type CountKernels, countKernels, ROW_ALIGN_BYTES } from "./countKernels.ts"

const FREE = 0,
  COUNTING = 1,
  DONE = 2,
  /** Its counting threw (zeroed again): whoever takes it next counts it, and meets the same error. */
  FAILED = 3
/** Hints: the fold the worker last asked a block of, a bit per distance it has asked for; workspaces claimed. */
const FOLD = 0,
  DISTANCES = 1,
  CLAIMED = 2
/** Workspaces in a store: one per table that sums rows (a thread's predictor, tests' extra tables). */
const WORKSPACES = 8
const PAGE = 65536

/** A store as sent to another thread (SharedBlocks.attach there). */
export interface SharedBlocksData {
  readonly folds: number
  readonly distances: number
  readonly layers: number
  readonly experts: number
  readonly maxSteps: number
  readonly state: SharedArrayBuffer
  readonly hints: SharedArrayBuffer
  readonly memory: WebAssembly.Memory
}

/** A table's own part of the memory: byte offsets, and the kernel over that memory. */
export interface Workspace {
  /** Kept sums: id's at sums + id · strideBytes. */
  readonly sums: number
  /** One row of zeros: the base of a sum afresh. */
  readonly zero: number
  /** Room for 2 · experts row offsets (i32). */
  readonly rows: number
  /** Bitset tables (a layer's, of one fold), `bitsetTables` of them, bitsetRows rows of bitsetBytes each. */
  readonly bitsets: number
  readonly kernels: CountKernels
}

export class SharedBlocks {
  private readonly state: Int32Array
  private readonly hints: Int32Array
  readonly memory: WebAssembly.Memory
  /** u32 counts per row (experts, padded to the kernel's chunk). */
  readonly stride: number
  readonly blockBytes: number
  /**
   * Bytes of a bitset row (a bit per training step of a fold, in 16-byte words), when pair counts
   * by bitsets are possible: 0 when a fold has 2^19 steps or more (countPairs' i16 lanes).
   */
  readonly bitsetBytes: number
  /** Rows of a bitset table: experts rounded up to 4 (countPairs reads four rows at a time). */
  readonly bitsetRows: number
  /** Bitset tables in a workspace: a block's two layers and the others a counting run reuses (distances + 2). */
  readonly bitsetTables: number
  private readonly ids: number
  private kernels: CountKernels | null = null

  /**
   * Blocks (fold · distances + d) · layers + l, each `experts` rows, for folds of at most maxSteps
   * training steps; `data` to attach another's.
   */
  constructor(
    readonly folds: number,
    readonly distances: number,
    readonly layers: number,
    readonly experts: number,
    readonly maxSteps: number,
    data?: SharedBlocksData
  ) {
    this.ids = folds * distances * layers
    this.stride = Math.ceil((4 * experts) / ROW_ALIGN_BYTES) * (ROW_ALIGN_BYTES / 4)
    this.blockBytes = 4 * experts * this.stride
    const bitsetBytes = 16 * Math.ceil(maxSteps / 128)
    this.bitsetBytes = bitsetBytes < 65536 ? bitsetBytes : 0
    this.bitsetRows = 4 * Math.ceil(experts / 4)
    this.bitsetTables = distances + 2
    const bytes = this.ids * this.blockBytes + WORKSPACES * this.workspaceBytes()
    const pages = Math.max(1, Math.ceil(bytes / PAGE))
    if (pages > PAGE) throw new Error(`transition tables: ${bytes} bytes of blocks, more than 4 GiB`)
    this.memory = data?.memory ?? new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true })
    this.state = new Int32Array(data?.state ?? new SharedArrayBuffer(4 * this.ids))
    this.hints = new Int32Array(data?.hints ?? new SharedArrayBuffer(12))
  }

  /** This store, to send to another thread. */
  get data(): SharedBlocksData {
    const { folds, distances, layers, experts, maxSteps, memory } = this
    return {
      folds,
      distances,
      layers,
      experts,
      maxSteps,
      memory,
      state: this.state.buffer as SharedArrayBuffer,
      hints: this.hints.buffer as SharedArrayBuffer
    }
  }

  /** The store another thread sent (its `data`): the same blocks. */
  static attach(d: SharedBlocksData): SharedBlocks {
    return new SharedBlocks(d.folds, d.distances, d.layers, d.experts, d.maxSteps, d)
  }

  private workspaceBytes(): number {
    const sums = (this.ids + 1) * 4 * this.stride,
      rows = Math.ceil((8 * this.experts) / ROW_ALIGN_BYTES) * ROW_ALIGN_BYTES
    return sums + rows + this.bitsetTables * this.bitsetRows * this.bitsetBytes
  }

  /** A workspace no other table uses (there are WORKSPACES per store). */
  workspace(): Workspace {
    const i = Atomics.add(this.hints, CLAIMED, 1)
    if (i >= WORKSPACES) throw new Error(`transition tables: more than ${WORKSPACES} tables on one store`)
    const sums = this.ids * this.blockBytes + i * this.workspaceBytes()
    const zero = sums + this.ids * 4 * this.stride
    const rows = zero + 4 * this.stride
    const bitsets = rows + Math.ceil((8 * this.experts) / ROW_ALIGN_BYTES) * ROW_ALIGN_BYTES
    this.kernels ??= countKernels(this.memory)
    return { sums, zero, rows, bitsets, kernels: this.kernels }
  }

  /** Byte offset of block `id` in the memory. */
  offset(id: number): number {
    return id * this.blockBytes
  }

  private view(id: number): Uint32Array {
    return new Uint32Array(this.memory.buffer, this.offset(id), this.experts * this.stride)
  }

  /**
   * Block `id`, counted here by `count` (which adds its counts into the zeroed block) unless the
   * other thread claimed it first: then once that thread is done. Records the ask as a hint.
   */
  take(id: number, count: (out: Uint32Array) => void): Uint32Array {
    const perFold = this.distances * this.layers
    Atomics.store(this.hints, FOLD, Math.floor(id / perFold))
    Atomics.or(this.hints, DISTANCES, 1 << Math.floor((id % perFold) / this.layers))
    for (let s = Atomics.load(this.state, id); s !== DONE; s = Atomics.load(this.state, id)) {
      if (s === COUNTING) Atomics.wait(this.state, id, COUNTING, 1000)
      else if (Atomics.compareExchange(this.state, id, s, COUNTING) === s) this.publish(id, count)
    }
    return this.view(id)
  }

  /** Take counts another thread sent for block `id`, unless it is claimed here already (the same counts). */
  adopt(id: number, counts: Uint32Array): void {
    if (Atomics.compareExchange(this.state, id, FREE, COUNTING) === FREE) this.publish(id, (out) => out.set(counts))
  }

  private publish(id: number, count: (out: Uint32Array) => void): void {
    try {
      count(this.view(id))
    } catch (e) {
      // Not left claimed: a thread waiting for it would wait forever (this one may be a worker about to stop).
      this.view(id).fill(0)
      Atomics.store(this.state, id, FAILED)
      Atomics.notify(this.state, id)
      throw e
    }
    Atomics.store(this.state, id, DONE)
    Atomics.notify(this.state, id)
  }

  /**
   * Count `fold`'s blocks from the last layer down, while another thread takes them from the first
   * layer up, until the two meet (a block claimed elsewhere): `count(out, d, l)`.
   */
  countFromTop(fold: number, count: (out: Uint32Array, d: number, l: number) => void): void {
    for (let l = this.layers - 2; l >= 0; l--)
      for (let d = 1; d < this.distances && l + d < this.layers; d++) {
        const id = (fold * this.distances + d) * this.layers + l
        if (Atomics.compareExchange(this.state, id, FREE, COUNTING) !== FREE) return
        this.publish(id, (out) => count(out, d, l))
      }
  }

  /**
   * Count one block the other thread is likely to want (see the class comment): `count(out, fold,
   * d, l)`. False when there is none: no hint yet, or every such block is claimed.
   */
  help(count: (out: Uint32Array, fold: number, d: number, l: number) => void): boolean {
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
