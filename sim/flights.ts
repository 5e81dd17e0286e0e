/**
 * Transfers in flight, in landing order (arrival, then start order). A copy engine is serial, so
 * its transfers land in the order they started: one FIFO per engine (and one per engine and cache
 * group) does what a heap did, and the earliest landing is the least of the engines' heads. A
 * settled or superseded flight leaves a stale entry behind, skipped and dropped lazily; every
 * push first drops its ring's stale head, so rings hold little more than what is in flight.
 */
class Ring {
  keys = new Int32Array(64)
  ids = new Int32Array(64)
  ends = new Float64Array(64)
  head = 0
  tail = 0
  push(key: number, id: number, end: number): void {
    if (this.tail === this.keys.length) this.makeRoom()
    this.keys[this.tail] = key
    this.ids[this.tail] = id
    this.ends[this.tail++] = end
  }
  /** Slide the live part to the front, and double the room when it is over half full. */
  private makeRoom(): void {
    const n = this.tail - this.head
    if (n * 2 > this.keys.length) {
      const k = new Int32Array(this.keys.length * 2),
        i = new Int32Array(this.keys.length * 2),
        e = new Float64Array(this.keys.length * 2)
      k.set(this.keys.subarray(this.head, this.tail))
      i.set(this.ids.subarray(this.head, this.tail))
      e.set(this.ends.subarray(this.head, this.tail))
      this.keys = k
      this.ids = i
      this.ends = e
    } else {
      this.keys.copyWithin(0, this.head, this.tail)
      this.ids.copyWithin(0, this.head, this.tail)
      this.ends.copyWithin(0, this.head, this.tail)
    }
    this.head = 0
    this.tail = n
  }
}

export class Flights {
  /** Start order of each key's live flight; 0 when it has none. */
  private readonly live: Int32Array
  private readonly all: Ring[]
  /** By group · engines + engine. */
  private readonly byGroup: Ring[]
  constructor(
    numKeys: number,
    private readonly engines: number,
    groups: number
  ) {
    this.live = new Int32Array(numKeys)
    this.all = Array.from({ length: engines }, () => new Ring())
    this.byGroup = Array.from({ length: groups * engines }, () => new Ring())
  }

  /** `key` started on `engine` as the `order`-th start (> 0, increasing) and lands at `end`. */
  start(key: number, group: number, engine: number, end: number, order: number): void {
    this.live[key] = order
    const a = this.all[engine]!,
      b = this.byGroup[group * this.engines + engine]!
    this.dropStale(a)
    this.dropStale(b)
    a.push(key, order, end)
    b.push(key, order, end)
  }

  /** The key's flight is over (landed, waited for, or dropped). */
  settle(key: number): void {
    this.live[key] = 0
  }

  /** The flight that lands first, or -1. */
  first(): number {
    let best: Ring | null = null
    for (const r of this.all) {
      this.dropStale(r)
      if (r.head < r.tail && (best === null || before(r, r.head, best, best.head))) best = r
    }
    return best === null ? -1 : best.keys[best.head]!
  }

  /** The group's flight that lands first among keys with pinned[key] = 0, or -1. */
  firstUnpinned(group: number, pinned: Uint8Array): number {
    let best: Ring | null = null,
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

  private dropStale(r: Ring): void {
    while (r.head < r.tail && this.live[r.keys[r.head]!] !== r.ids[r.head]) r.head++
  }
}

/** Does entry i of ring a land before entry j of ring b? */
function before(a: Ring, i: number, b: Ring, j: number): boolean {
  const x = a.ends[i]!,
    y = b.ends[j]!
  return x < y || (x === y && a.ids[i]! < b.ids[j]!)
}
