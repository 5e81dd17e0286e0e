import { KeyList } from "./structures/keyList.ts"
import type { EvictionContext, EvictionPolicy } from "./evictionPolicy.ts"

/** Least recently used: evict the expert whose last access is oldest. */
export class LruPolicy implements EvictionPolicy {
  readonly name = "lru"
  readonly needsFuture = false
  private readonly list: KeyList
  constructor(ctx: EvictionContext) {
    this.list = new KeyList(ctx.numKeys, ctx.capacities.length)
  }
  insert(key: number, group: number): void {
    this.list.pushNewest(key, group)
  }
  touch(key: number, group: number): void {
    this.list.moveToNewest(key, group)
  }
  remove(key: number): void {
    this.list.unlink(key)
  }
  replace(victim: number, key: number, group: number): void {
    this.list.unlink(victim)
    this.list.pushNewest(key, group)
  }
  victim(group: number, blocked: Uint8Array): number {
    return this.list.oldestUnblocked(group, blocked)
  }
}
