/**
 * koffi bindings to the CUDA runtime (libcudart). Every call's return code is checked: a
 * non-zero code becomes a CudaError carrying the call, the code, and CUDA's error name and string.
 * Device and pinned-host pointers are plain 64-bit addresses (bigint), so slot arithmetic is exact.
 */
import koffi from "koffi"
import { findLibrary, type Loaded } from "./libraries.ts"

export class CudaError extends Error {
  readonly _tag = "CudaError"
  constructor(
    readonly call: string,
    readonly code: number,
    readonly errorName: string,
    readonly errorString: string
  ) {
    super(`${call} failed: ${errorName} (${code}): ${errorString}`)
  }
}

export const H2D = 1,
  D2H = 2,
  D2D = 3
export type Stream = unknown
export type Event = unknown

koffi.opaque("CUstream_st")
koffi.opaque("CUevent_st")
koffi.pointer("cudaStream_t", "CUstream_st")
koffi.pointer("cudaEvent_t", "CUevent_st")

export function loadCudart(names = ["libcudart.so", "libcudart.so.13", "libcudart.so.12"]) {
  const loaded: Loaded = findLibrary(names, "cuda_runtime")
  const { lib } = loaded
  const optional = (sig: string) => {
    try {
      return lib.func(sig)
    } catch {
      return null
    }
  }
  const raw = {
    getErrorName: lib.func("const char *cudaGetErrorName(int err)"),
    getErrorString: lib.func("const char *cudaGetErrorString(int err)"),
    runtimeGetVersion: lib.func("int cudaRuntimeGetVersion(_Out_ int *v)"),
    driverGetVersion: lib.func("int cudaDriverGetVersion(_Out_ int *v)"),
    getDeviceCount: lib.func("int cudaGetDeviceCount(_Out_ int *n)"),
    setDevice: lib.func("int cudaSetDevice(int d)"),
    deviceGetAttribute: lib.func("int cudaDeviceGetAttribute(_Out_ int *v, int attr, int d)"),
    getDeviceProperties:
      optional("int cudaGetDeviceProperties_v2(_Out_ uint8_t *prop, int d)") ??
      lib.func("int cudaGetDeviceProperties(_Out_ uint8_t *prop, int d)"),
    memGetInfo: lib.func("int cudaMemGetInfo(_Out_ size_t *free, _Out_ size_t *total)"),
    malloc: lib.func("int cudaMalloc(_Out_ uint64_t *p, size_t n)"),
    free: lib.func("int cudaFree(uint64_t p)"),
    mallocHost: lib.func("int cudaMallocHost(_Out_ uint64_t *p, size_t n)"),
    freeHost: lib.func("int cudaFreeHost(uint64_t p)"),
    memcpy: lib.func("int cudaMemcpy(uint64_t dst, const void *src, size_t n, int kind)"),
    memcpyAsync: lib.func("int cudaMemcpyAsync(uint64_t dst, uint64_t src, size_t n, int kind, cudaStream_t s)"),
    memsetAsync: lib.func("int cudaMemsetAsync(uint64_t p, int v, size_t n, cudaStream_t s)"),
    deviceGetStreamPriorityRange: lib.func(
      "int cudaDeviceGetStreamPriorityRange(_Out_ int *least, _Out_ int *greatest)"
    ),
    streamCreateWithPriority: lib.func(
      "int cudaStreamCreateWithPriority(_Out_ cudaStream_t *s, unsigned int flags, int priority)"
    ),
    streamDestroy: lib.func("int cudaStreamDestroy(cudaStream_t s)"),
    streamSynchronize: lib.func("int cudaStreamSynchronize(cudaStream_t s)"),
    streamWaitEvent: lib.func("int cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned int flags)"),
    eventCreate: lib.func("int cudaEventCreate(_Out_ cudaEvent_t *e)"),
    eventDestroy: lib.func("int cudaEventDestroy(cudaEvent_t e)"),
    eventRecord: lib.func("int cudaEventRecord(cudaEvent_t e, cudaStream_t s)"),
    eventSynchronize: lib.func("int cudaEventSynchronize(cudaEvent_t e)"),
    eventElapsedTime: lib.func("int cudaEventElapsedTime(_Out_ float *ms, cudaEvent_t a, cudaEvent_t b)"),
    deviceSynchronize: lib.func("int cudaDeviceSynchronize()")
  }
  const check = (call: string, code: number) => {
    if (code !== 0) throw new CudaError(call, code, String(raw.getErrorName(code)), String(raw.getErrorString(code)))
  }
  const out1 = <T>(call: string, f: (o: [T]) => number, init: T): T => {
    const o: [T] = [init]
    check(call, f(o))
    return o[0]
  }
  return {
    path: loaded.path,
    tried: loaded.tried,
    check,
    runtimeVersion: () => out1("cudaRuntimeGetVersion", (o) => raw.runtimeGetVersion(o), 0),
    driverVersion: () => out1("cudaDriverGetVersion", (o) => raw.driverGetVersion(o), 0),
    deviceCount: () => out1("cudaGetDeviceCount", (o) => raw.getDeviceCount(o), 0),
    setDevice: (d: number) => check("cudaSetDevice", raw.setDevice(d)),
    attribute: (attr: number, d = 0) =>
      out1(`cudaDeviceGetAttribute(${attr})`, (o) => raw.deviceGetAttribute(o, attr, d), 0),
    deviceName: (d = 0): string => {
      const buf = new Uint8Array(8192) // larger than any cudaDeviceProp; `name` is its first field
      check("cudaGetDeviceProperties", raw.getDeviceProperties(buf, d))
      const end = buf.indexOf(0)
      return new TextDecoder().decode(buf.subarray(0, end < 0 ? 256 : Math.min(end, 256)))
    },
    memInfo: (): { free: number; total: number } => {
      const f: [number] = [0],
        t: [number] = [0]
      check("cudaMemGetInfo", raw.memGetInfo(f, t))
      return { free: Number(f[0]), total: Number(t[0]) }
    },
    malloc: (n: number): bigint => BigInt(out1("cudaMalloc", (o) => raw.malloc(o, n), 0 as number | bigint)),
    free: (p: bigint) => check("cudaFree", raw.free(p)),
    mallocHost: (n: number): bigint =>
      BigInt(out1("cudaMallocHost", (o) => raw.mallocHost(o, n), 0 as number | bigint)),
    freeHost: (p: bigint) => check("cudaFreeHost", raw.freeHost(p)),
    /** Fill device memory from a JS buffer (synchronous). */
    upload: (dst: bigint, src: Uint8Array) => check("cudaMemcpy", raw.memcpy(dst, src, src.byteLength, H2D)),
    copyAsync: (dst: bigint, src: bigint, n: number, kind: number, s: Stream) =>
      check("cudaMemcpyAsync", raw.memcpyAsync(dst, src, n, kind, s)),
    memsetAsync: (p: bigint, v: number, n: number, s: Stream) => check("cudaMemsetAsync", raw.memsetAsync(p, v, n, s)),
    priorityRange: (): { least: number; greatest: number } => {
      const a: [number] = [0],
        b: [number] = [0]
      check("cudaDeviceGetStreamPriorityRange", raw.deviceGetStreamPriorityRange(a, b))
      return { least: a[0], greatest: b[0] }
    },
    streamCreate: (priority: number): Stream =>
      out1(
        "cudaStreamCreateWithPriority",
        (o) => raw.streamCreateWithPriority(o, 1 /* non-blocking */, priority),
        null as unknown
      ),
    streamDestroy: (s: Stream) => check("cudaStreamDestroy", raw.streamDestroy(s)),
    streamSynchronize: (s: Stream) => check("cudaStreamSynchronize", raw.streamSynchronize(s)),
    streamWaitEvent: (s: Stream, e: Event) => check("cudaStreamWaitEvent", raw.streamWaitEvent(s, e, 0)),
    eventCreate: (): Event => out1("cudaEventCreate", (o) => raw.eventCreate(o), null as unknown),
    eventDestroy: (e: Event) => check("cudaEventDestroy", raw.eventDestroy(e)),
    eventRecord: (e: Event, s: Stream) => check("cudaEventRecord", raw.eventRecord(e, s)),
    eventSynchronize: (e: Event) => check("cudaEventSynchronize", raw.eventSynchronize(e)),
    /** Milliseconds between two recorded, completed events. */
    elapsedMs: (a: Event, b: Event): number => out1("cudaEventElapsedTime", (o) => raw.eventElapsedTime(o, a, b), 0),
    deviceSynchronize: () => check("cudaDeviceSynchronize", raw.deviceSynchronize())
  }
}
export type Cudart = ReturnType<typeof loadCudart>

/** cudaDeviceAttr values used here (driver_types.h). */
export const ATTR = {
  multiProcessorCount: 16,
  pciBusId: 33,
  pciDeviceId: 34,
  asyncEngineCount: 40,
  pciDomainId: 50,
  ccMajor: 75,
  ccMinor: 76
} as const
