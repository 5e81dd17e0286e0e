import { KeyHeap } from "./structures/keyHeap.ts"
import { PositionSet } from "./structures/positionSet.ts"
import { NEVER, type EvictionContext, type EvictionPolicy } from "./evictionPolicy.ts"

/**
 * Belady's MIN (offline bound): evict the resident expert whose next use is farthest in the
 * future. A missed expert is always loaded: it must be on the GPU to compute. Experts never used
 * again go first, lowest key first.
 *
 * With experts of different sizes (a byte budget over a GGUF mix) it becomes size-aware, as
 * libCacheSim's BeladySize: evict the expert with the largest size × distance to its next use
 * (experts never used again first, the largest of them first). One heap per (group, size class)
 * keeps the farthest expert of each size on top, so the choice is exact, not sampled.
 *
 * One group of one size (a unified cache of slots, the common case) uses a position index instead:
 * a next use is an access's position, which only that access's key can hold, so the resident keys
 * are a set of positions (plus those never used again, by key), and the victim is the largest
 * unblocked position, found in a few word operations instead of a heap's sift per miss.
 */
export class BeladyPolicy implements EvictionPolicy {
  readonly name = "belady"
  readonly needsFuture = true
  private readonly heap: KeyHeap
  /** Size class of each layer, and the units of each class (null: one size). */
  private readonly classOfLayer: Int32Array | null
  private readonly classUnits: number[]
  private readonly experts: number
  private now = 0
  private readonly index: PositionIndex | null
  constructor(ctx: EvictionContext) {
    this.experts = ctx.experts
    this.index =
      ctx.accesses !== undefined && ctx.unitOfLayer === null && ctx.capacities.length === 1
        ? new PositionIndex(ctx.accesses, ctx.numKeys, ctx.notifiesBlocking === true)
        : null
    const units = ctx.unitOfLayer
    this.classUnits = units ? [...new Set(units)].sort((a, b) => a - b) : [1]
    this.classOfLayer = units ? Int32Array.from(units, (u) => this.classUnits.indexOf(u)) : null
    const C = this.classUnits.length
    // With the index the heap is never used: built empty.
    this.heap = new KeyHeap(
      this.index ? 0 : ctx.numKeys,
      this.index ? [] : Array.from({ length: ctx.maxKeys.length * C }, (_, i) => ctx.maxKeys[Math.floor(i / C)]!)
    )
  }
  /** Min-heap on the negated next use, so the top is the farthest; unique, so one compare decides. */
  private static prio(key: number, nextUse: number): number {
    return nextUse === NEVER ? -(NEVER + 1e6 - key) : -nextUse
  }
  private heapOf(key: number, group: number): number {
    const cls = this.classOfLayer
    return cls ? group * this.classUnits.length + cls[Math.floor(key / this.experts)]! : group
  }
  insert(key: number, group: number, now: number, nextUse: number): void {
    this.now = now
    if (this.index) this.index.add(key, nextUse)
    else this.heap.insert(key, this.heapOf(key, group), BeladyPolicy.prio(key, nextUse), 0)
  }
  touch(key: number, _group: number, now: number, nextUse: number): void {
    this.now = now
    if (this.index) {
      this.index.delete(key)
      this.index.add(key, nextUse)
    } else this.heap.update(key, BeladyPolicy.prio(key, nextUse), 0)
  }
  remove(key: number): void {
    if (this.index) this.index.delete(key)
    else this.heap.remove(key)
  }
  replace(victim: number, key: number, group: number, now: number, nextUse: number): void {
    if (this.classOfLayer || this.index) {
      this.remove(victim)
      this.insert(key, group, now, nextUse)
      return
    }
    this.now = now
    this.heap.replace(victim, key, BeladyPolicy.prio(key, nextUse), 0)
  }
  unblock(key: number): void {
    this.index?.unblock(key)
  }
  victim(group: number, blocked: Uint8Array): number {
    if (this.index) return this.index.farthestUnblocked(blocked)
    if (!this.classOfLayer) return this.heap.minUnblocked(group, blocked)
    const C = this.classUnits.length
    let best = -1,
      bestScore = -1
    for (let c = 0; c < C; c++) {
      const k = this.heap.minUnblocked(group * C + c, blocked)
      if (k < 0) continue
      const p = -this.heap.primaryOf(k)
      // Never used again: beyond any finite distance, larger experts first.
      const distance = p > NEVER ? 1e15 : Math.max(1, p - this.now)
      const score = distance * this.classUnits[c]!
      if (score > bestScore || (score === bestScore && k < best)) {
        best = k
        bestScore = score
      }
    }
    return best
  }
}

/**
 * Resident keys by next use: a position each, or (never used again) in a set by key. The farthest
 * keys are mostly blocked (Belady keeps evicting the top, so what stays there is what a layer just
 * pinned), so with `parking` (the caller reports every unblocking) a key found blocked on top is
 * set aside ("held") and put back when it unblocks: each victim is then the set's top, not a walk
 * past the same pinned keys at every miss. The victim is the same either way.
 */
class PositionIndex {
  private readonly byUse: PositionSet
  private readonly never: PositionSet
  /** The key whose next use each position is (16 bits while keys fit). */
  private readonly keyAt: Uint16Array | Int32Array
  /** Each resident key's next use (NEVER: in `never`). */
  private readonly useOf: Float64Array
  /** Resident keys set aside while blocked (out of both sets); empty without parking. */
  private readonly held: Uint8Array
  constructor(
    accesses: number,
    numKeys: number,
    private readonly parking: boolean
  ) {
    this.byUse = new PositionSet(accesses)
    this.never = new PositionSet(numKeys)
    this.keyAt = numKeys <= 0x10000 ? new Uint16Array(accesses) : new Int32Array(accesses)
    this.useOf = new Float64Array(numKeys)
    this.held = new Uint8Array(parking ? numKeys : 0)
  }
  add(key: number, nextUse: number): void {
    this.useOf[key] = nextUse
    this.put(key)
  }
  private put(key: number): void {
    const use = this.useOf[key]!
    if (use === NEVER) this.never.add(key)
    else {
      this.byUse.add(use)
      this.keyAt[use] = key
    }
  }
  delete(key: number): void {
    if (this.parking && this.held[key]) this.held[key] = 0
    else this.take(key)
  }
  private take(key: number): void {
    const use = this.useOf[key]!
    if (use === NEVER) this.never.delete(key)
    else this.byUse.delete(use)
  }
  unblock(key: number): void {
    if (!this.parking || !this.held[key]) return
    this.held[key] = 0
    this.put(key)
  }
  /** Never used again first (lowest key first), then the farthest next use; -1 if all are blocked. */
  farthestUnblocked(blocked: Uint8Array): number {
    for (let k = this.never.ceil(0); k >= 0; k = this.never.ceil(k + 1)) {
      if (blocked[k] === 0) return k
      this.hold(k)
    }
    for (let p = this.byUse.floor(this.byUse.size - 1); p >= 0; p = this.byUse.floor(p - 1)) {
      const k = this.keyAt[p]!
      if (blocked[k] === 0) return k
      this.hold(k)
    }
    return -1
  }
  private hold(key: number): void {
    if (!this.parking) return
    this.take(key)
    this.held[key] = 1
  }
}
