import type { EvictionContext, EvictionPolicy } from "./evictionPolicy.ts"

/**
 * SE-MoE's ring buffer as an eviction rule: layers are visited in a cycle, so the expert whose
 * layer comes back last (the layer just computed) goes first. Within a layer, the lowest expert
 * id goes first. Use with `prefetch=window:R,predictor=all` to hold every expert of the next R
 * layers, as SE-MoE does.
 *
 * When the caller reports every (un)blocking, the policy keeps each layer's evictable experts
 * (resident, not blocked) as a bitmap and a count: layers with none are skipped and a layer's
 * lowest evictable expert is its bitmap's lowest set bit, O(L + E/32) per victim instead of
 * O(L·E), which matters when `predictor=all` asks for hundreds of slots per gate.
 */
export class RingPolicy implements EvictionPolicy {
  readonly name = "ring"
  readonly needsFuture = false
  private readonly resident: Uint8Array
  private readonly counting: boolean
  /** Blocked as the caller last reported, and each layer's resident, unblocked experts. */
  private readonly blockedNow: Uint8Array
  private readonly evictable: Int32Array
  /** The evictable experts as bits: layer l's at words [l · words, (l + 1) · words). */
  private readonly bits: Int32Array
  private readonly words: number
  /** Each key's layer (a table: count runs at every (un)blocking). */
  private readonly layerOf: Int32Array
  /** Evictable experts over all layers: a prefetch that finds none is refused at once. */
  private evictableTotal = 0
  private layer = 0
  constructor(private readonly ctx: EvictionContext) {
    this.resident = new Uint8Array(ctx.numKeys)
    this.counting = ctx.notifiesBlocking === true
    this.blockedNow = new Uint8Array(ctx.numKeys)
    this.evictable = new Int32Array(ctx.layers)
    this.words = Math.ceil(ctx.experts / 32)
    this.bits = new Int32Array(this.counting ? ctx.layers * this.words : 0)
    this.layerOf = Int32Array.from({ length: ctx.numKeys }, (_, k) => Math.floor(k / ctx.experts))
  }
  onLayer(flat: number): void {
    this.layer = flat % this.ctx.layers
  }
  private count(key: number, delta: number): void {
    if (!this.counting || this.blockedNow[key] !== 0) return
    const layer = this.layerOf[key]!
    this.evictable[layer]! += delta
    this.evictableTotal += delta
    const e = key - layer * this.ctx.experts
    const w = layer * this.words + (e >>> 5)
    if (delta > 0) this.bits[w]! |= 1 << (e & 31)
    else this.bits[w]! &= ~(1 << (e & 31))
  }
  insert(key: number): void {
    this.resident[key] = 1
    this.count(key, 1)
  }
  touch(): void {}
  remove(key: number): void {
    this.resident[key] = 0
    this.count(key, -1)
  }
  replace(victim: number, key: number): void {
    this.remove(victim)
    this.insert(key)
  }
  block(key: number): void {
    if (this.resident[key] === 1 && this.blockedNow[key] === 0) this.count(key, -1)
    this.blockedNow[key] = 1
  }
  unblock(key: number): void {
    this.blockedNow[key] = 0
    if (this.resident[key] === 1) this.count(key, 1)
  }
  victim(_group: number, blocked: Uint8Array): number {
    const { layers: L, experts: E } = this.ctx
    if (this.counting && this.evictableTotal === 0) return -1
    // Farthest ahead in the cycle first: the current layer (next needed a whole cycle later), then backwards.
    for (let d = 0; d < L; d++) {
      const layer = (this.layer - d + L) % L
      const base = layer * E
      if (!this.counting) {
        for (let e = 0; e < E; e++) if (this.resident[base + e] === 1 && blocked[base + e] === 0) return base + e
        continue
      }
      if (this.evictable[layer] === 0) continue
      for (let w = layer * this.words, e = 0; e < E; w++, e += 32) {
        const b = this.bits[w]!
        if (b !== 0) return base + e + 31 - Math.clz32(b & -b)
      }
    }
    return -1
  }
}
