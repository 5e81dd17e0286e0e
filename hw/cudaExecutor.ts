/**
 * The CUDA executor: runs an execution plan on a real GPU.
 *   - one device arena of expert slots (cudaMalloc); a pinned host expert store (cudaMallocHost),
 *     or a smaller pool of pinned buffers reused round-robin when host memory is short (DMA
 *     timing does not depend on content);
 *   - one copy stream per copy engine and a compute stream; the plan's events carry every
 *     dependency (arrival before FFN, gate before copy, slot reuse);
 *   - expert FFNs as real bf16 GEMMs with the model's dimensions (gate, up, down; Switch: wi, wo)
 *     over the tokens routed to the expert; the non-expert part of a layer as GEMMs of the
 *     attention projections (QKV and O sized from the model profile) plus shared experts. The
 *     elementwise activation and attention scores are not run (small at decode; noted).
 * Weights are random bf16 values in [−0.5, 0.5] (never zeros: a GEMM on zeros runs faster).
 * Every handle and allocation is a scoped resource, released on success, error or interrupt.
 */
import { Effect, type Scope } from "effect"
import type { ModelProfile } from "../base/profiles.ts"
import { expertBytes } from "../base/profiles.ts"
import type { CommandLog } from "../sim/commandLog.ts"
import { D2H, H2D, type Cudart, type Event, type Stream } from "./cudart.ts"
import type { Cublas } from "./cublas.ts"
import type { Plan } from "./plan.ts"

export interface ExecutorOptions {
  /** Pinned host memory for the expert store; fewer buffers than experts are reused round-robin. */
  readonly hostBytes: number
  readonly device: number
}

export interface Execution {
  /** Event times in ns since the plan's t0. */
  readonly eventNs: Float64Array
  /** Host time spent issuing the plan, per expert operation (copy or FFN), in ns. */
  readonly hostNsPerExpertOp: number
  readonly hostBuffers: number
}

const acquire = <A>(make: () => A, release: (a: A) => void): Effect.Effect<A, never, Scope.Scope> =>
  Effect.acquireRelease(Effect.sync(make), (a) => Effect.sync(() => release(a)))

/** Random bf16 values in [−0.5, 0.5]: sign random, exponent 118..125, mantissa random. */
export function randomBf16(bytes: number, seed = 1): Uint8Array {
  const out = new Uint16Array(bytes / 2)
  let s = seed >>> 0
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    out[i] = ((s >>> 31) << 15) | ((118 + ((s >>> 24) & 7)) << 7) | ((s >>> 8) & 0x7f)
  }
  return new Uint8Array(out.buffer)
}

/** GEMM shapes of the model: the expert FFN and the non-expert part of a layer. */
export function layerShapes(m: ModelProfile) {
  const h = m.hiddenSize,
    f = m.expertIntermediateSize
  const nonExpertRows = Math.max(h, Math.round(m.nonExpertParamsPerLayer / h))
  return {
    hidden: h,
    inter: f,
    matrices: m.expertMatrices,
    qkvRows: Math.max(1, nonExpertRows - h),
    oRows: h,
    shared: m.sharedExperts,
    sharedInter: m.sharedExpertIntermediateSize
  }
}

export function executeOnGpu(
  rt: Cudart,
  blas: Cublas,
  model: ModelProfile,
  log: CommandLog,
  plan: Plan & { copyStreams: string[] },
  slots: number,
  opts: ExecutorOptions
): Effect.Effect<Execution, Error> {
  return Effect.scoped(
    Effect.gen(function* () {
      rt.setDevice(opts.device)
      const eBytes = expertBytes(model)
      if (model.bytesPerParam !== 2)
        throw new Error(`the CUDA executor runs bf16 weights; ${model.id} has ${model.bytesPerParam} bytes/param`)
      const sh = layerShapes(model)
      const L = model.layers,
        E = model.experts
      const maxTokens = Math.max(1, ...log.commands.map((c) => (c.kind === "copy" ? 1 : c.tokens)))
      const nonExpertBytes =
        2 * sh.hidden * (sh.qkvRows + sh.oRows) + 2 * sh.shared * sh.matrices * sh.hidden * sh.sharedInter
      const scratchRows = Math.max(sh.hidden, sh.inter, sh.qkvRows, sh.sharedInter)
      const need = slots * eBytes + nonExpertBytes + 3 * 2 * scratchRows * maxTokens
      const mem = rt.memInfo()
      if (need > mem.free - 2 ** 30)
        throw new Error(
          `needs ${(need / 2 ** 30).toFixed(1)} GiB of GPU memory for ${slots} slots of ` +
            `${(eBytes / 2 ** 20).toFixed(1)} MiB; ${(mem.free / 2 ** 30).toFixed(1)} GiB free (1 GiB kept back)`
        )

      const { greatest } = rt.priorityRange()
      const compute = yield* acquire(
        () => rt.streamCreate(greatest),
        (s) => rt.streamDestroy(s)
      )
      const copies: Stream[] = []
      for (let i = 0; i < plan.copyStreams.length; i++)
        copies.push(
          yield* acquire(
            () => rt.streamCreate(greatest),
            (s) => rt.streamDestroy(s)
          )
        )
      const streamOf = (id: string): Stream => (id === "compute" ? compute : copies[Number(id.slice(4))]!)
      const arena = yield* acquire(
        () => rt.malloc(slots * eBytes),
        (p) => rt.free(p)
      )
      const nonExpert = yield* acquire(
        () => rt.malloc(Math.max(2, nonExpertBytes)),
        (p) => rt.free(p)
      )
      const X = yield* acquire(
        () => rt.malloc(2 * scratchRows * maxTokens),
        (p) => rt.free(p)
      )
      const H1 = yield* acquire(
        () => rt.malloc(2 * scratchRows * maxTokens),
        (p) => rt.free(p)
      )
      const H2 = yield* acquire(
        () => rt.malloc(2 * scratchRows * maxTokens),
        (p) => rt.free(p)
      )
      const hostBuffers = Math.max(1, Math.min(L * E, Math.floor(opts.hostBytes / eBytes)))
      const host: bigint[] = []
      for (let i = 0; i < hostBuffers; i++)
        host.push(
          yield* acquire(
            () => rt.mallocHost(eBytes),
            (p) => rt.freeHost(p)
          )
        )
      const handle = yield* acquire(
        () => blas.create(),
        (h) => blas.destroy(h)
      )
      blas.setStream(handle, compute)

      // Random weights everywhere: device arena and weights, then the host store from the device.
      const pattern = randomBf16(16 * 2 ** 20)
      const fill = (p: bigint, n: number) => {
        for (let off = 0; off < n; off += pattern.length)
          rt.upload(p + BigInt(off), pattern.subarray(0, Math.min(pattern.length, n - off)))
      }
      fill(arena, Math.min(slots * eBytes, eBytes))
      fill(nonExpert, nonExpertBytes)
      fill(X, 2 * scratchRows * maxTokens)
      for (const h of host) rt.copyAsync(h, arena, eBytes, D2H, copies[0]!)
      rt.streamSynchronize(copies[0]!)
      const slotAddr = (slot: number) => arena + BigInt(slot) * BigInt(eBytes)
      const hostAddr = (key: number) => host[key % hostBuffers]!

      const expertFfn = (slot: number, t: number) => {
        const base = slotAddr(slot),
          mat = BigInt(2 * sh.hidden * sh.inter)
        blas.gemm(handle, sh.inter, t, sh.hidden, base, X, H1)
        if (sh.matrices === 3) blas.gemm(handle, sh.inter, t, sh.hidden, base + mat, X, H2)
        blas.gemm(handle, sh.hidden, t, sh.inter, base + BigInt(sh.matrices - 1) * mat, H1, H2)
      }
      const nonExpertLayer = (t: number) => {
        blas.gemm(handle, sh.qkvRows, t, sh.hidden, nonExpert, X, H1)
        blas.gemm(handle, sh.oRows, t, sh.hidden, nonExpert + BigInt(2 * sh.hidden * sh.qkvRows), X, H2)
        let off = BigInt(2 * sh.hidden * (sh.qkvRows + sh.oRows))
        for (let s = 0; s < sh.shared; s++) {
          const mat = BigInt(2 * sh.hidden * sh.sharedInter)
          blas.gemm(handle, sh.sharedInter, t, sh.hidden, nonExpert + off, X, H1)
          if (sh.matrices === 3) blas.gemm(handle, sh.sharedInter, t, sh.hidden, nonExpert + off + mat, X, H2)
          blas.gemm(handle, sh.hidden, t, sh.sharedInter, nonExpert + off + BigInt(sh.matrices - 1) * mat, H1, H2)
          off += BigInt(sh.matrices) * mat
        }
      }
      // Warm up cuBLAS (heuristics, workspace) and the copy path outside the measured run.
      for (let i = 0; i < 3; i++) {
        expertFfn(0, 1)
        nonExpertLayer(1)
        rt.copyAsync(slotAddr(0), hostAddr(0), eBytes, H2D, copies[0]!)
      }
      rt.deviceSynchronize()
      for (const [key, slot] of log.preloaded) rt.copyAsync(slotAddr(slot), hostAddr(key), eBytes, H2D, copies[0]!)
      rt.deviceSynchronize()

      const events: Event[] = []
      for (let i = 0; i < plan.events; i++)
        events.push(
          yield* acquire(
            () => rt.eventCreate(),
            (e) => rt.eventDestroy(e)
          )
        )
      let expertOps = 0
      const started = performance.now()
      for (const a of plan.actions) {
        switch (a.kind) {
          case "record":
            rt.eventRecord(events[a.event], streamOf(a.stream))
            break
          case "wait":
            rt.streamWaitEvent(streamOf(a.stream), events[a.event])
            break
          case "layer":
            nonExpertLayer(a.tokens)
            break
          case "copy":
            rt.copyAsync(slotAddr(a.slot), hostAddr(a.key), eBytes, H2D, streamOf(a.stream))
            expertOps++
            break
          case "ffn":
            expertFfn(a.slot, a.tokens)
            expertOps++
            break
        }
      }
      const hostNs = (performance.now() - started) * 1e6
      rt.deviceSynchronize()
      const eventNs = new Float64Array(plan.events)
      for (let i = 0; i < plan.events; i++) eventNs[i] = rt.elapsedMs(events[plan.t0], events[i]) * 1e6
      return { eventNs, hostNsPerExpertOp: expertOps > 0 ? hostNs / expertOps : 0, hostBuffers }
    })
  )
}
