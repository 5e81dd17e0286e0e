import type { AccessStream } from "../traces/batching.ts"
import { InputError } from "../base/errors.ts"

/**
 * How expert slots are laid out: one pool shared by all layers (unified), or a fixed share per
 * layer (partitioned: ⌊slots / L⌋ each, the remainder to the lowest layers).
 */
export interface CacheGeometry {
  readonly slots: number
  readonly partitioned: boolean
  /** Slots per group. */
  readonly capacities: Int32Array
  /** Group of each layer. */
  readonly groupOfLayer: Int32Array
}

export function makeGeometry(a: AccessStream, slots: number, partitioned: boolean): CacheGeometry {
  const L = a.layers
  if (!Number.isInteger(slots) || slots <= 0)
    throw new InputError("--cache-slots", `value ${slots}`, "cache-slots", "must be a positive integer")
  const capacities = partitioned
    ? Int32Array.from({ length: L }, (_, l) => Math.floor(slots / L) + (l < slots % L ? 1 : 0))
    : Int32Array.of(slots)
  const groupOfLayer = Int32Array.from({ length: L }, (_, l) => (partitioned ? l : 0))
  // Every expert a layer needs must be on the GPU at once to compute that layer.
  for (let s = 0; s < a.steps; s++) {
    for (let l = 0; l < L; l++) {
      const need = a.offsets[s * L + l + 1]! - a.offsets[s * L + l]!
      const cap = capacities[groupOfLayer[l]!]!
      if (need > cap) {
        throw new InputError(
          "--cache-slots",
          `step ${s} layer ${l}`,
          "cache-slots",
          `impossible cache size: ${slots} slots${partitioned ? ` (${cap} for layer ${l})` : ""} but this layer ` +
            `needs ${need} experts at once`
        )
      }
    }
  }
  return { slots, partitioned, capacities, groupOfLayer }
}
