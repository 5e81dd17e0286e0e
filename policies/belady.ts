import { KeyHeap } from "./structures/keyHeap.ts"
import { NEVER, type EvictionContext, type EvictionPolicy } from "./evictionPolicy.ts"

/**
 * Belady's MIN (offline bound): evict the resident expert whose next use is farthest in the
 * future. A missed expert is always loaded: it must be on the GPU to compute. Experts never used
 * again go first, lowest key first.
 */
export class BeladyPolicy implements EvictionPolicy {
  readonly name = "belady"
  readonly needsFuture = true
  private readonly heap: KeyHeap
  constructor(ctx: EvictionContext) {
    this.heap = new KeyHeap(ctx.numKeys, ctx.capacities)
  }
  /** Min-heap on the negated next use, so the top is the farthest; unique, so one compare decides. */
  private static prio(key: number, nextUse: number): number {
    return nextUse === NEVER ? -(NEVER + 1e6 - key) : -nextUse
  }
  insert(key: number, group: number, _now: number, nextUse: number): void {
    this.heap.insert(key, group, BeladyPolicy.prio(key, nextUse), 0)
  }
  touch(key: number, _group: number, _now: number, nextUse: number): void {
    this.heap.update(key, BeladyPolicy.prio(key, nextUse), 0)
  }
  remove(key: number): void {
    this.heap.remove(key)
  }
  replace(victim: number, key: number, _group: number, _now: number, nextUse: number): void {
    this.heap.replace(victim, key, BeladyPolicy.prio(key, nextUse), 0)
  }
  victim(group: number, blocked: Uint8Array): number {
    return this.heap.minUnblocked(group, blocked)
  }
}
