/**
 * A FIFO of (key, id, time) entries over typed arrays: the copy queues' waiting transfers (id: the
 * entry's sequence number, time: when it may start) and the flights per copy engine (id: start
 * order, time: arrival). Entries live in [head, tail); the consumed front is reused.
 */
export class EntryQueue {
  keys = new Int32Array(64)
  ids = new Int32Array(64)
  times = new Float64Array(64)
  head = 0
  tail = 0
  push(key: number, id: number, time: number): void {
    if (this.tail === this.keys.length) this.makeRoom()
    this.keys[this.tail] = key
    this.ids[this.tail] = id
    this.times[this.tail++] = time
  }
  /**
   * Slide the live part to the front, and double the room when it is over a quarter full: each
   * slide then copies at most a third as many entries as the pushes since the last (at half, a
   * queue that stays near half full copies one entry per push).
   */
  private makeRoom(): void {
    const n = this.tail - this.head
    if (n * 4 > this.keys.length) {
      const k = new Int32Array(this.keys.length * 2),
        i = new Int32Array(this.keys.length * 2),
        t = new Float64Array(this.keys.length * 2)
      k.set(this.keys.subarray(this.head, this.tail))
      i.set(this.ids.subarray(this.head, this.tail))
      t.set(this.times.subarray(this.head, this.tail))
      this.keys = k
      this.ids = i
      this.times = t
    } else {
      this.keys.copyWithin(0, this.head, this.tail)
      this.ids.copyWithin(0, this.head, this.tail)
      this.times.copyWithin(0, this.head, this.tail)
    }
    this.head = 0
    this.tail = n
  }
}
