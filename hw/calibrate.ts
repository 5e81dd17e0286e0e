/**
 * `expertflow hw calibrate`: measure what the simulator's timing model needs, on this GPU, for a
 * model's dimensions, and write a hardware profile the simulator uses as is:
 *   - H2D time against transfer size (pinned host memory; median of repeats) → h2dTable; the
 *     per-copy latency and best bandwidth from a least-squares line through it;
 *   - whether two H2D copies on two streams overlap (→ copyEngines for H2D);
 *   - whether a copy overlaps a GEMM (reported);
 *   - expert FFN time against tokens (the model's real GEMMs) → expertFfnTable;
 *   - the non-expert part of a layer against tokens → nonExpertTable;
 *   - device-to-device copy bandwidth and a large bf16 GEMM's rate (reported; compared with the
 *     datasheet in the note).
 * Every measured number says so in `sources`.
 */
import { Effect } from "effect"
import { linearRegression } from "simple-statistics"
import type { HardwareProfile, ModelProfile } from "../base/profiles.ts"
import { expertBytes } from "../base/profiles.ts"
import { D2D, H2D, type Cudart } from "./cudart.ts"
import type { Cublas } from "./cublas.ts"
import { layerShapes, randomBf16 } from "./cudaExecutor.ts"

export interface Calibration {
  profile: HardwareProfile
  report: {
    device: string
    h2d_best_gbps: number
    h2d_latency_ns: number
    h2d_two_streams_overlap: boolean
    copy_compute_overlap: number
    d2d_gbps: number
    gemm_bf16_tflops: number
    expert_ffn_ns: Array<{ tokens: number; ns: number }>
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

export function calibrate(
  rt: Cudart,
  blas: Cublas,
  model: ModelProfile,
  device = 0,
  reps = 7
): Effect.Effect<Calibration, Error> {
  return Effect.scoped(
    Effect.gen(function* () {
      const acquire = <A>(make: () => A, release: (a: A) => void) =>
        Effect.acquireRelease(Effect.sync(make), (a) => Effect.sync(() => release(a)))
      rt.setDevice(device)
      const name = rt.deviceName(device)
      const { greatest } = rt.priorityRange()
      const s1 = yield* acquire(
        () => rt.streamCreate(greatest),
        (s) => rt.streamDestroy(s)
      )
      const s2 = yield* acquire(
        () => rt.streamCreate(greatest),
        (s) => rt.streamDestroy(s)
      )
      const e0 = yield* acquire(
        () => rt.eventCreate(),
        (e) => rt.eventDestroy(e)
      )
      const e1 = yield* acquire(
        () => rt.eventCreate(),
        (e) => rt.eventDestroy(e)
      )
      // Fork/join events for two-stream measurements: e0/e1 bracket the timed region itself.
      const fork = yield* acquire(
        () => rt.eventCreate(),
        (e) => rt.eventDestroy(e)
      )
      const join = yield* acquire(
        () => rt.eventCreate(),
        (e) => rt.eventDestroy(e)
      )
      const maxCopy = Math.max(expertBytes(model), 512 * 2 ** 20)
      const host = yield* acquire(
        () => rt.mallocHost(maxCopy),
        (p) => rt.freeHost(p)
      )
      const dev = yield* acquire(
        () => rt.malloc(2 * maxCopy),
        (p) => rt.free(p)
      )
      const pattern = randomBf16(16 * 2 ** 20)
      for (let off = 0; off < 2 * maxCopy; off += pattern.length)
        rt.upload(dev + BigInt(off), pattern.subarray(0, Math.min(pattern.length, 2 * maxCopy - off)))
      rt.copyAsync(host, dev, maxCopy, 2 /* D2H */, s1)
      rt.streamSynchronize(s1)
      /** Median ns of `work` enqueued on `s` between two events. */
      const time = (s: unknown, work: () => void): number => {
        const xs: number[] = []
        for (let r = 0; r < reps + 1; r++) {
          rt.eventRecord(e0, s)
          work()
          rt.eventRecord(e1, s)
          rt.eventSynchronize(e1)
          if (r > 0) xs.push(rt.elapsedMs(e0, e1) * 1e6)
        }
        return median(xs)
      }
      // H2D against size.
      const sizes: number[] = []
      for (let b = 4096; b <= maxCopy; b *= 4) sizes.push(b)
      if (sizes.at(-1) !== expertBytes(model)) sizes.push(expertBytes(model))
      sizes.sort((a, b) => a - b)
      const h2d = sizes.map((bytes) => ({ bytes, ns: time(s1, () => rt.copyAsync(dev, host, bytes, H2D, s1)) }))
      const big = h2d.filter((r) => r.bytes >= 2 ** 20)
      const fit = linearRegression(big.map((r) => [r.bytes, r.ns]))
      const bestGBps = Math.max(...big.map((r) => r.bytes / r.ns))
      const latency = Math.max(0, Math.round(fit.b))
      // Two H2D copies on two streams: overlap would show as less than twice one copy's time.
      const half = Math.floor(maxCopy / 2)
      const one = time(s1, () => rt.copyAsync(dev, host, half, H2D, s1))
      const both = time(s1, () => {
        rt.eventRecord(fork, s1)
        rt.streamWaitEvent(s2, fork)
        rt.copyAsync(dev, host, half, H2D, s1)
        rt.copyAsync(dev + BigInt(half), host + BigInt(half), half, H2D, s2)
        rt.eventRecord(join, s2)
        rt.streamWaitEvent(s1, join)
      })
      const twoStreamsOverlap = both < 1.5 * one
      // GEMM shapes of this model.
      const handle = yield* acquire(
        () => blas.create(),
        (h) => blas.destroy(h)
      )
      blas.setStream(handle, s2)
      const sh = layerShapes(model)
      const scratch = yield* acquire(
        () => rt.malloc(3 * 2 * Math.max(sh.hidden, sh.inter, sh.qkvRows, sh.sharedInter) * 512),
        (p) => rt.free(p)
      )
      const rows = BigInt(2 * Math.max(sh.hidden, sh.inter, sh.qkvRows, sh.sharedInter) * 512)
      const X = scratch,
        H1 = scratch + rows,
        H2 = scratch + 2n * rows
      const ffn = (t: number) => {
        const mat = BigInt(2 * sh.hidden * sh.inter)
        blas.gemm(handle, sh.inter, t, sh.hidden, dev, X, H1)
        if (sh.matrices === 3) blas.gemm(handle, sh.inter, t, sh.hidden, dev + mat, X, H2)
        blas.gemm(handle, sh.hidden, t, sh.inter, dev + BigInt(sh.matrices - 1) * mat, H1, H2)
      }
      const nonExpert = (t: number) => {
        blas.gemm(handle, sh.qkvRows, t, sh.hidden, dev, X, H1)
        blas.gemm(handle, sh.oRows, t, sh.hidden, dev, X, H2)
        for (let s = 0; s < sh.shared; s++) {
          blas.gemm(handle, sh.sharedInter, t, sh.hidden, dev, X, H1)
          if (sh.matrices === 3) blas.gemm(handle, sh.sharedInter, t, sh.hidden, dev, X, H2)
          blas.gemm(handle, sh.hidden, t, sh.sharedInter, dev, H1, H2)
        }
      }
      const tokens = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]
      for (let i = 0; i < 3; i++) {
        ffn(1)
        nonExpert(1)
      }
      const expertFfnTable = tokens.map((t) => ({ tokens: t, ns: Math.round(time(s2, () => ffn(t))) }))
      const nonExpertTable = tokens.map((t) => ({ tokens: t, ns: Math.round(time(s2, () => nonExpert(t))) }))
      // A copy beside a GEMM-heavy stretch: 1 = fully hidden, 0 = serialized.
      const copyAlone = one,
        gemmAlone = time(s2, () => {
          for (let i = 0; i < 20; i++) ffn(64)
        })
      const together = time(s1, () => {
        rt.eventRecord(fork, s1)
        rt.streamWaitEvent(s2, fork)
        rt.copyAsync(dev + BigInt(half), host, half, H2D, s1)
        for (let i = 0; i < 20; i++) ffn(64)
        rt.eventRecord(join, s2)
        rt.streamWaitEvent(s1, join)
      })
      const overlap = Math.max(0, Math.min(1, (copyAlone + gemmAlone - together) / Math.min(copyAlone, gemmAlone)))
      const d2d = time(s1, () => rt.copyAsync(dev + BigInt(maxCopy), dev, maxCopy, D2D, s1))
      const n = 8192,
        gemmNs = time(s2, () =>
          blas.gemm(handle, n, 256, Math.min(n, Math.floor(maxCopy / (2 * n))), dev, dev, dev + BigInt(maxCopy))
        )
      const gemmTflops = (2 * n * 256 * Math.min(n, Math.floor(maxCopy / (2 * n)))) / gemmNs / 1000
      const measured = `measured by expertflow hw calibrate on ${name} (${model.id} shapes)`
      const profile: HardwareProfile = {
        id: `calibrated-${name.toLowerCase().replace(/[^a-z0-9]+/g, "-")}-${model.id}`,
        name: `${name} (calibrated for ${model.id})`,
        h2dBandwidthGBps: Math.round(bestGBps * 1000) / 1000,
        h2dLatencyNs: latency,
        copyEngines: twoStreamsOverlap ? 2 : 1,
        hbmBandwidthGBps: Math.round(((2 * maxCopy) / d2d) * 10) / 10,
        bf16Tflops: Math.round(gemmTflops * 10) / 10,
        expertLaunchNs: 0,
        nonExpertLaunchNs: 0,
        gpuMemoryBytes: rt.memInfo().total,
        h2dTable: h2d.map((r) => ({ bytes: r.bytes, ns: Math.round(r.ns) })),
        expertFfnTable,
        nonExpertTable,
        sources: Object.fromEntries(
          [
            "h2dBandwidthGBps",
            "h2dLatencyNs",
            "copyEngines",
            "hbmBandwidthGBps",
            "bf16Tflops",
            "expertLaunchNs",
            "nonExpertLaunchNs",
            "gpuMemoryBytes"
          ].map((k) => [k, measured])
        )
      }
      return {
        profile,
        report: {
          device: name,
          h2d_best_gbps: profile.h2dBandwidthGBps,
          h2d_latency_ns: latency,
          h2d_two_streams_overlap: twoStreamsOverlap,
          copy_compute_overlap: Math.round(overlap * 1000) / 1000,
          d2d_gbps: profile.hbmBandwidthGBps,
          gemm_bf16_tflops: profile.bf16Tflops,
          expert_ffn_ns: expertFfnTable
        }
      }
    })
  )
}
