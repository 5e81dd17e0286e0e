import { EntryQueue } from "../policies/structures/entryQueue.ts"

/**
 * Transfers in flight, in landing order (arrival, then start order). A copy engine is serial, so
 * its transfers land in the order they started: one FIFO per engine (and one per engine and cache
 * group) does what a heap did, and the earliest landing is the least of the engines' heads. A
 * settled or superseded flight leaves a stale entry behind, skipped and dropped lazily; every
 * push first drops its queue's stale head, so queues hold little more than what is in flight.
 */
export class Flights {
  /** Start order of each key's live flight; 0 when it has none. */
  private readonly live: Int32Array
  private readonly all: EntryQueue[]
  /** By group · engines + engine. */
  private readonly byGroup: EntryQueue[]
  constructor(
    numKeys: number,
    private readonly engines: number,
    groups: number
  ) {
    this.live = new Int32Array(numKeys)
    this.all = Array.from({ length: engines }, () => new EntryQueue())
    // One group: its queues are the engines' (the same entries, pushed once).
    this.byGroup = groups === 1 ? this.all : Array.from({ length: groups * engines }, () => new EntryQueue())
  }

  /** `key` started on `engine` as the `order`-th start (> 0, increasing) and lands at `end`. */
  start(key: number, group: number, engine: number, end: number, order: number): void {
    this.live[key] = order
    const a = this.all[engine]!,
      b = this.byGroup[group * this.engines + engine]!
    this.dropStale(a)
    a.push(key, order, end)
    if (b === a) return
    this.dropStale(b)
    b.push(key, order, end)
  }

  /** The key's flight is over (landed, waited for, or dropped). */
  settle(key: number): void {
    this.live[key] = 0
  }

  /** The flight that lands first, or -1. */
  first(): number {
    let best: EntryQueue | null = null
    for (const r of this.all) {
      this.dropStale(r)
      if (r.head < r.tail && (best === null || before(r, r.head, best, best.head))) best = r
    }
    return best === null ? -1 : best.keys[best.head]!
  }

  /** The group's flight that lands first among keys with pinned[key] = 0, or -1. */
  firstUnpinned(group: number, pinned: Uint8Array): number {
    let best: EntryQueue | null = null,
      at = 0
    for (let e = 0; e < this.engines; e++) {
      const r = this.byGroup[group * this.engines + e]!
      this.dropStale(r)
      for (let i = r.head; i < r.tail; i++) {
        const k = r.keys[i]!
        if (this.live[k] !== r.ids[i] || pinned[k] !== 0) continue
        if (best === null || before(r, i, best, at)) {
          best = r
          at = i
        }
        break
      }
    }
    return best === null ? -1 : best.keys[at]!
  }

  private dropStale(r: EntryQueue): void {
    while (r.head < r.tail && this.live[r.keys[r.head]!] !== r.ids[r.head]) r.head++
  }
}

/** Does entry i of queue a land before entry j of queue b? */
function before(a: EntryQueue, i: number, b: EntryQueue, j: number): boolean {
  const x = a.times[i]!,
    y = b.times[j]!
  return x < y || (x === y && a.ids[i]! < b.ids[j]!)
}
