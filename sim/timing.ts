/**
 * The timing model (DESIGN.md): every constant comes from the hardware and model profiles.
 * All results are integer nanoseconds (rounded up), so replays are bit-for-bit reproducible.
 */
import type { HardwareProfile, ModelProfile } from "../base/profiles.ts"
import { expertBytesByLayer, expertParams, sharedExpertParams } from "../base/profiles.ts"
import { parseWeightFormat } from "../base/weightFormats.ts"

export interface TimingModel {
  /** H2D time of one expert (the largest, when sizes differ by layer). */
  readonly transferNs: number
  /** H2D time of one expert of each layer: each expert costs its own bytes (absent: all transferNs). */
  readonly transferNsOfLayer?: Float64Array
  readonly expertBytes: number
  /** Expert FFN time for `tokens` tokens routed to one expert of `layer` (sizes may differ by layer). */
  expertNs(tokens: number, layer?: number): number
  /** Non-expert part of one layer (attention, router, shared experts) for a step of `tokens` tokens. */
  layerNs(tokens: number): number
}

const ceil = Math.ceil

/** Linear interpolation in a (x → ns) table; beyond the ends, the nearest segment's line. */
export function interpolate(xs: readonly number[], ys: readonly number[], x: number): number {
  if (xs.length === 1) return ys[0]!
  let i = 1
  while (i < xs.length - 1 && xs[i]! < x) i++
  const x0 = xs[i - 1]!,
    x1 = xs[i]!,
    y0 = ys[i - 1]!,
    y1 = ys[i]!
  return Math.max(0, y0 + ((y1 - y0) * (x - x0)) / (x1 - x0))
}

/** Roofline: a kernel streams its weights once and does 2·params·tokens flops; the slower bound wins. */
export const rooflineNs = (bytes: number, params: number, tokens: number, hw: HardwareProfile): number =>
  Math.max(bytes / hw.hbmBandwidthGBps, (2 * params * tokens) / (hw.bf16Tflops * 1000))

/**
 * Expert FFN time, when no measured table replaces it: the roofline over the expert's stored
 * (possibly quantized) bytes, with dequantization charged as `dequantOpsPerWeight` operations per
 * weight at the profile's flop rate beside the GEMM's 2·params·tokens (a lower bound: dequant runs
 * on CUDA cores, not tensor cores; a calibrated table is the cure).
 */
const quantizedRooflineNs = (bytes: number, params: number, tokens: number, dequantOps: number, hw: HardwareProfile) =>
  Math.max(bytes / hw.hbmBandwidthGBps, (2 * params * tokens + dequantOps * params) / (hw.bf16Tflops * 1000))

export function makeTiming(model: ModelProfile, hw: HardwareProfile): TimingModel {
  const byLayer = expertBytesByLayer(model)
  const eBytes = Math.max(...byLayer)
  const eParams = expertParams(model)
  const dequantOps = model.expertFormat !== undefined ? parseWeightFormat(model.expertFormat).dequantOpsPerWeight : 0
  const h2dNs = (bytes: number) =>
    hw.h2dTable
      ? ceil(
          interpolate(
            hw.h2dTable.map((r) => r.bytes),
            hw.h2dTable.map((r) => r.ns),
            bytes
          )
        )
      : hw.h2dLatencyNs + ceil(bytes / hw.h2dBandwidthGBps)
  const transferNs = h2dNs(eBytes)
  const transferNsOfLayer = Float64Array.from(byLayer, h2dNs)
  const uniform = byLayer.every((b) => b === eBytes)
  const ffnTable = hw.expertFfnTable
  const layerTable = hw.nonExpertTable
  const sharedParams = sharedExpertParams(model) * model.sharedExperts
  const neParams = model.nonExpertParamsPerLayer
  const expertMemo = memoByIndex((memo) => {
    const tokens = uniform ? memo : Math.floor(memo / model.layers)
    const layer = uniform ? 0 : memo % model.layers
    const bytes = uniform ? eBytes : byLayer[layer]!
    return ffnTable
      ? ceil(
          interpolate(
            ffnTable.map((r) => r.tokens),
            ffnTable.map((r) => r.ns),
            tokens
          )
        )
      : ceil(
          (dequantOps === 0
            ? rooflineNs(bytes, eParams, tokens, hw)
            : quantizedRooflineNs(bytes, eParams, tokens, dequantOps, hw)) + hw.expertLaunchNs
        )
  })
  const expertNs = (tokens: number, layer = 0): number => expertMemo(uniform ? tokens : tokens * model.layers + layer)
  const layerNs = memoByIndex((tokens) => {
    const shared = sharedParams > 0 ? rooflineNs(sharedParams * model.bytesPerParam, sharedParams, tokens, hw) : 0
    return layerTable
      ? ceil(
          interpolate(
            layerTable.map((r) => r.tokens),
            layerTable.map((r) => r.ns),
            tokens
          ) + shared
        )
      : ceil(rooflineNs(neParams * model.bytesPerParam, neParams, tokens, hw) + shared + hw.nonExpertLaunchNs)
  })
  return { transferNs, transferNsOfLayer, expertBytes: eBytes, expertNs, layerNs }
}

/**
 * `compute` memoized by its argument (a token count, or tokens · L + layer): small non-negative
 * integers, which the replay asks for once per expert it runs, in a typed array, not a Map.
 */
function memoByIndex(compute: (i: number) => number): (i: number) => number {
  const SMALL = 1 << 16
  let small = new Float64Array(0)
  const other = new Map<number, number>()
  return (i) => {
    if (i < small.length && !Number.isNaN(small[i]!)) return small[i]!
    if (!(Number.isInteger(i) && i >= 0 && i < SMALL)) {
      let v = other.get(i)
      if (v === undefined) {
        v = compute(i)
        other.set(i, v)
      }
      return v
    }
    if (i >= small.length) {
      const grown = new Float64Array(Math.min(SMALL, Math.max(64, 2 * (i + 1)))).fill(Number.NaN)
      grown.set(small)
      small = grown
    }
    small[i] = compute(i)
    return small[i]!
  }
}
