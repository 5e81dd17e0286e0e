import { KeyList } from "./structures/keyList.ts"
import type { EvictionContext, EvictionPolicy } from "./evictionPolicy.ts"

/**
 * Static popularity pinning: the most popular experts in the training data are loaded with the
 * model and never evicted (a fraction of the slots, `cache=pin:0.5`); the other slots run LRU.
 */
export class PinnedPolicy implements EvictionPolicy {
  readonly name = "pin"
  readonly needsFuture = false
  private readonly list: KeyList
  constructor(
    ctx: EvictionContext,
    private pinned: Uint8Array
  ) {
    this.list = new KeyList(ctx.numKeys, ctx.capacities.length)
  }
  repin(mask: Uint8Array, isResident: (key: number) => boolean, groupOf: (key: number) => number): void {
    for (let k = 0; k < mask.length; k++) {
      if (!isResident(k) || this.pinned[k] === mask[k]) continue
      if (mask[k]) this.list.unlink(k)
      else this.list.pushNewest(k, groupOf(k))
    }
    this.pinned = mask
  }
  insert(key: number, group: number): void {
    if (!this.pinned[key]) this.list.pushNewest(key, group)
  }
  touch(key: number, group: number): void {
    if (!this.pinned[key]) this.list.moveToNewest(key, group)
  }
  remove(key: number): void {
    if (!this.pinned[key]) this.list.unlink(key)
  }
  replace(victim: number, key: number, group: number): void {
    this.remove(victim)
    this.insert(key, group)
  }
  victim(group: number, blocked: Uint8Array): number {
    return this.list.oldestUnblocked(group, blocked)
  }
}

/**
 * The most used (layer, expert) keys of the training data that fill `fraction` of each group's
 * capacity (slots, or bytes when `unitOfLayer` gives each layer's expert size).
 */
export function popularKeys(
  counts: Float64Array,
  capacities: Float64Array,
  groupOfLayer: Int32Array,
  experts: number,
  fraction: number,
  unitOfLayer: Float64Array | null = null
): number[] {
  const order = Array.from(counts.keys()).sort((a, b) => counts[b]! - counts[a]! || a - b)
  const room = Float64Array.from(capacities, (c) => Math.floor(c * fraction))
  const out: number[] = []
  for (const key of order) {
    if (counts[key]! <= 0) break
    const layer = Math.floor(key / experts)
    const g = groupOfLayer[layer]!
    const need = unitOfLayer ? unitOfLayer[layer]! : 1
    if (room[g]! >= need) {
      room[g]! -= need
      out.push(key)
    }
  }
  return out
}
