import type { EvictionContext, EvictionPolicy } from "./evictionPolicy.ts"

/**
 * SE-MoE's ring buffer as an eviction rule: layers are visited in a cycle, so the expert whose
 * layer comes back last (the layer just computed) goes first. Within a layer, the lowest expert
 * id goes first. Use with `prefetch=window:R,predictor=all` to hold every expert of the next R
 * layers, as SE-MoE does.
 */
export class RingPolicy implements EvictionPolicy {
  readonly name = "ring"
  readonly needsFuture = false
  private readonly resident: Uint8Array
  private layer = 0
  constructor(private readonly ctx: EvictionContext) {
    this.resident = new Uint8Array(ctx.numKeys)
  }
  onLayer(flat: number): void {
    this.layer = flat % this.ctx.layers
  }
  insert(key: number): void {
    this.resident[key] = 1
  }
  touch(): void {}
  remove(key: number): void {
    this.resident[key] = 0
  }
  replace(victim: number, key: number): void {
    this.resident[victim] = 0
    this.resident[key] = 1
  }
  victim(_group: number, blocked: Uint8Array): number {
    const { layers: L, experts: E } = this.ctx
    // Farthest ahead in the cycle first: the current layer (next needed a whole cycle later), then backwards.
    for (let d = 0; d < L; d++) {
      const base = ((this.layer - d + L) % L) * E
      for (let e = 0; e < E; e++) if (this.resident[base + e] === 1 && blocked[base + e] === 0) return base + e
    }
    return -1
  }
}
