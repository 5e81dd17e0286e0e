/**
 * The timing model (DESIGN.md): every constant comes from the hardware and model profiles.
 * All results are integer nanoseconds (rounded up), so replays are bit-for-bit reproducible.
 */
import type { HardwareProfile, ModelProfile } from "../base/profiles.ts"
import { expertBytes, expertParams, sharedExpertParams } from "../base/profiles.ts"

export interface TimingModel {
  /** H2D time of one expert. */
  readonly transferNs: number
  readonly expertBytes: number
  /** Expert FFN time for `tokens` tokens routed to one expert. */
  expertNs(tokens: number): number
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

export function makeTiming(model: ModelProfile, hw: HardwareProfile): TimingModel {
  const eBytes = expertBytes(model)
  const eParams = expertParams(model)
  const transferNs = hw.h2dTable
    ? ceil(
        interpolate(
          hw.h2dTable.map((r) => r.bytes),
          hw.h2dTable.map((r) => r.ns),
          eBytes
        )
      )
    : hw.h2dLatencyNs + ceil(eBytes / hw.h2dBandwidthGBps)
  const ffnTable = hw.expertFfnTable
  const layerTable = hw.nonExpertTable
  const sharedParams = sharedExpertParams(model) * model.sharedExperts
  const neParams = model.nonExpertParamsPerLayer
  const cache = new Map<number, number>()
  const expertNs = (tokens: number): number => {
    let v = cache.get(tokens)
    if (v === undefined) {
      v = ffnTable
        ? ceil(
            interpolate(
              ffnTable.map((r) => r.tokens),
              ffnTable.map((r) => r.ns),
              tokens
            )
          )
        : ceil(rooflineNs(eBytes, eParams, tokens, hw) + hw.expertLaunchNs)
      cache.set(tokens, v)
    }
    return v
  }
  const layerCache = new Map<number, number>()
  const layerNs = (tokens: number): number => {
    let v = layerCache.get(tokens)
    if (v === undefined) {
      const shared = sharedParams > 0 ? rooflineNs(sharedParams * model.bytesPerParam, sharedParams, tokens, hw) : 0
      v = layerTable
        ? ceil(
            interpolate(
              layerTable.map((r) => r.tokens),
              layerTable.map((r) => r.ns),
              tokens
            ) + shared
          )
        : ceil(rooflineNs(neParams * model.bytesPerParam, neParams, tokens, hw) + shared + hw.nonExpertLaunchNs)
      layerCache.set(tokens, v)
    }
    return v
  }
  return { transferNs, expertBytes: eBytes, expertNs, layerNs }
}
