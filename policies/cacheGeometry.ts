import type { AccessStream } from "../traces/batching.ts"
import { InputError } from "../base/errors.ts"

/**
 * How the expert cache is laid out: one pool shared by all layers (unified), or a fixed share per
 * layer (partitioned). Its size is counted in units: slots when every expert has one size (a unit
 * is one expert), bytes when sizes differ by layer (a unit is one byte, and an expert of layer l
 * takes `unitOfLayer[l]` of them).
 *   slots, partitioned: ⌊slots / L⌋ per layer, the remainder to the lowest layers;
 *   bytes, partitioned: each layer's share is proportional to its expert size, so every layer
 *   holds about the same number of experts (⌊budget · b_l / Σb⌋ bytes).
 */
export interface CacheGeometry {
  /** Slot count (uniform sizes); with a byte budget, the experts of the largest size that fit. */
  readonly slots: number
  readonly partitioned: boolean
  /** Units per group. */
  readonly capacities: Float64Array
  /** Group of each layer. */
  readonly groupOfLayer: Int32Array
  /** Units one expert of each layer takes; null when a unit is one expert (slots). */
  readonly unitOfLayer: Float64Array | null
  /** The most keys a group can hold at once (sizes data structures): its layers' experts. */
  readonly maxKeys: Int32Array
  /** The byte budget when the cache was given in bytes over mixed sizes; else null. */
  readonly budgetBytes: number | null
}

export type CacheSize = { readonly slots: number } | { readonly bytes: number; readonly bytesOfLayer: Float64Array }

/**
 * `streamed`: a timed replay, where a layer whose batch needs more experts than its cache holds
 * loads the rest as its experts finish (sim/engine.ts); then each group must hold one expert.
 * Without time (cache-only) every expert a layer needs must fit at once.
 */
export function makeGeometry(a: AccessStream, size: CacheSize, partitioned: boolean, streamed = false): CacheGeometry {
  const L = a.layers,
    E = a.experts
  const uniform = "slots" in size || size.bytesOfLayer.every((b) => b === size.bytesOfLayer[0])
  const groupOfLayer = Int32Array.from({ length: L }, (_, l) => (partitioned ? l : 0))
  let capacities: Float64Array,
    unitOfLayer: Float64Array | null = null,
    slots: number
  if (uniform) {
    slots = "slots" in size ? size.slots : Math.floor(size.bytes / size.bytesOfLayer[0]!)
    if (!Number.isInteger(slots) || slots <= 0) {
      const what = "slots" in size ? `value ${slots}` : `budget ${size.bytes} B`
      throw new InputError("--cache-slots", what, "cache-slots", "must hold at least one expert")
    }
    capacities = partitioned
      ? Float64Array.from({ length: L }, (_, l) => Math.floor(slots / L) + (l < slots % L ? 1 : 0))
      : Float64Array.of(slots)
  } else {
    const b = (size as { bytesOfLayer: Float64Array }).bytesOfLayer
    const budget = (size as { bytes: number }).bytes
    const total = b.reduce((x, y) => x + y, 0)
    unitOfLayer = b
    slots = Math.floor(budget / Math.max(...b))
    capacities = partitioned ? Float64Array.from(b, (bl) => Math.floor((budget * bl) / total)) : Float64Array.of(budget)
  }
  // Keys a group may hold: all of its layers' experts (a batch may overfill until evict=batch runs).
  const maxKeys = new Int32Array(capacities.length)
  for (let l = 0; l < L; l++) maxKeys[groupOfLayer[l]!]! += E
  checkFits(a, capacities, groupOfLayer, unitOfLayer, partitioned, slots, streamed)
  return {
    slots,
    partitioned,
    capacities,
    groupOfLayer,
    unitOfLayer,
    maxKeys,
    budgetBytes: unitOfLayer ? (size as { bytes: number }).bytes : null
  }
}

/**
 * Every expert a layer needs must be on the GPU at once to compute that layer; streamed, one at a
 * time (the rest load as the layer's experts finish).
 */
function checkFits(
  a: AccessStream,
  capacities: Float64Array,
  groupOfLayer: Int32Array,
  unitOfLayer: Float64Array | null,
  partitioned: boolean,
  slots: number,
  streamed: boolean
): void {
  const L = a.layers
  const when = streamed ? "at a time" : "at once"
  for (let s = 0; s < a.steps; s++) {
    for (let l = 0; l < L; l++) {
      const all = a.offsets[s * L + l + 1]! - a.offsets[s * L + l]!
      const n = streamed ? Math.min(all, 1) : all
      const need = unitOfLayer ? n * unitOfLayer[l]! : n
      const cap = capacities[groupOfLayer[l]!]!
      if (need <= cap) continue
      if (unitOfLayer)
        throw new InputError(
          "--cache-bytes",
          `step ${s} layer ${l}`,
          "cache-bytes",
          `impossible cache size: ${cap} B${partitioned ? ` for layer ${l}` : ""} but this layer's batch needs ` +
            `${n} experts of ${unitOfLayer[l]} B (${need} B) ${when}`
        )
      throw new InputError(
        "--cache-slots",
        `step ${s} layer ${l}`,
        "cache-slots",
        `impossible cache size: ${slots} slots${partitioned ? ` (${cap} for layer ${l})` : ""} but this layer ` +
          `needs ${n} experts ${when}`
      )
    }
  }
}
