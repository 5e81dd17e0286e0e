// FROZEN REFERENCE (test only): Belady as a heap of next uses for every layout, before the position
// index. The oracle of test/indexedEngine.test.ts; never edit it to follow policies/.
import { KeyHeap } from "../../policies/structures/keyHeap.ts"
import { NEVER, type EvictionContext, type EvictionPolicy } from "../../policies/evictionPolicy.ts"

/**
 * Belady's MIN (offline bound): evict the resident expert whose next use is farthest in the
 * future. A missed expert is always loaded: it must be on the GPU to compute. Experts never used
 * again go first, lowest key first.
 *
 * With experts of different sizes (a byte budget over a GGUF mix) it becomes size-aware, as
 * libCacheSim's BeladySize: evict the expert with the largest size × distance to its next use
 * (experts never used again first, the largest of them first). One heap per (group, size class)
 * keeps the farthest expert of each size on top, so the choice is exact, not sampled.
 */
export class BeladyHeapPolicy implements EvictionPolicy {
  readonly name = "belady"
  readonly needsFuture = true
  private readonly heap: KeyHeap
  /** Size class of each layer, and the units of each class (null: one size). */
  private readonly classOfLayer: Int32Array | null
  private readonly classUnits: number[]
  private readonly experts: number
  private now = 0
  constructor(ctx: EvictionContext) {
    this.experts = ctx.experts
    const units = ctx.unitOfLayer
    this.classUnits = units ? [...new Set(units)].sort((a, b) => a - b) : [1]
    this.classOfLayer = units ? Int32Array.from(units, (u) => this.classUnits.indexOf(u)) : null
    const C = this.classUnits.length
    this.heap = new KeyHeap(
      ctx.numKeys,
      Array.from({ length: ctx.maxKeys.length * C }, (_, i) => ctx.maxKeys[Math.floor(i / C)]!)
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
    this.heap.insert(key, this.heapOf(key, group), BeladyHeapPolicy.prio(key, nextUse), 0)
  }
  touch(key: number, _group: number, now: number, nextUse: number): void {
    this.now = now
    this.heap.update(key, BeladyHeapPolicy.prio(key, nextUse), 0)
  }
  remove(key: number): void {
    this.heap.remove(key)
  }
  replace(victim: number, key: number, group: number, now: number, nextUse: number): void {
    if (this.classOfLayer) {
      this.remove(victim)
      this.insert(key, group, now, nextUse)
      return
    }
    this.now = now
    this.heap.replace(victim, key, BeladyHeapPolicy.prio(key, nextUse), 0)
  }
  victim(group: number, blocked: Uint8Array): number {
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
