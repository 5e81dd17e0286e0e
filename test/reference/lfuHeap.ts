// FROZEN REFERENCE (test only): LFU as a (frequency, recency, key) heap, before its O(1) lists.
// It is the oracle of test/properties.test.ts; never edit it to follow policies/.
import { KeyHeap } from "../../policies/structures/keyHeap.ts"
import type { EvictionContext, EvictionPolicy } from "../../policies/evictionPolicy.ts"

/**
 * Least frequently used, counting accesses while resident (a re-loaded expert starts at 1, as in
 * libCacheSim's LFU); ties go to the least recently used.
 */
export class LfuHeapPolicy implements EvictionPolicy {
  readonly name = "lfu"
  readonly needsFuture = false
  private readonly freq: Float64Array
  private readonly heap: KeyHeap
  constructor(ctx: EvictionContext) {
    this.freq = new Float64Array(ctx.numKeys)
    this.heap = new KeyHeap(ctx.numKeys, ctx.maxKeys)
  }
  insert(key: number, group: number, now: number): void {
    this.freq[key] = 1
    this.heap.insert(key, group, 1, now)
  }
  touch(key: number, _group: number, now: number): void {
    this.heap.update(key, ++this.freq[key]!, now)
  }
  remove(key: number): void {
    this.heap.remove(key)
  }
  replace(victim: number, key: number, _group: number, now: number): void {
    this.freq[key] = 1
    this.heap.replace(victim, key, 1, now)
  }
  victim(group: number, blocked: Uint8Array): number {
    return this.heap.minUnblocked(group, blocked)
  }
}
