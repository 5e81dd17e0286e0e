import { KeyList } from "./structures/keyList.ts"
import type { EvictionContext, EvictionPolicy } from "./evictionPolicy.ts"

/** First in, first out: evict the expert loaded longest ago; hits change nothing. */
export class FifoPolicy implements EvictionPolicy {
  readonly name = "fifo"
  readonly needsFuture = false
  private readonly list: KeyList
  constructor(ctx: EvictionContext) {
    this.list = new KeyList(ctx.numKeys, ctx.capacities.length)
  }
  insert(key: number, group: number): void {
    this.list.pushNewest(key, group)
  }
  touch(): void {}
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
