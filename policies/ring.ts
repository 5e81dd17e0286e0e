import type { EvictionContext, EvictionPolicy } from "./evictionPolicy.ts"

/**
 * SE-MoE's ring buffer as an eviction rule: layers are visited in a cycle, so the expert whose
 * layer comes back last (the layer just computed) goes first. Within a layer, the lowest expert
 * id goes first. Use with `prefetch=window:R,predictor=all` to hold every expert of the next R
 * layers, as SE-MoE does.
 *
 * When the caller reports every (un)blocking, the policy counts each layer's evictable experts
 * (resident, not blocked) and skips layers with none: O(L + E) per victim instead of O(L·E),
 * which matters when `predictor=all` asks for hundreds of slots per gate.
 */
export class RingPolicy implements EvictionPolicy {
  readonly name = "ring"
  readonly needsFuture = false
  private readonly resident: Uint8Array
  private readonly counting: boolean
  /** Blocked as the caller last reported, and each layer's resident, unblocked experts. */
  private readonly blockedNow: Uint8Array
  private readonly evictable: Int32Array
  /** Per layer, an expert id at or below its lowest evictable one (counting mode): scans start there. */
  private readonly lowest: Int32Array
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
    this.lowest = new Int32Array(ctx.layers)
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
    if (delta > 0 && e < this.lowest[layer]!) this.lowest[layer] = e
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
      if (this.counting && this.evictable[layer] === 0) continue
      const base = layer * E
      for (let e = this.counting ? this.lowest[layer]! : 0; e < E; e++)
        if (this.resident[base + e] === 1 && blocked[base + e] === 0) {
          if (this.counting) this.lowest[layer] = e
          return base + e
        }
    }
    return -1
  }
}
