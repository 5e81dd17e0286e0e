/**
 * koffi bindings to cuBLAS: one handle, bf16 GEMMs with fp32 accumulation (cublasGemmEx).
 * Column-major, as cuBLAS wants: C[m×n] = A[m×k] · B[k×n].
 */
import koffi from "koffi"
import { findLibrary } from "./libraries.ts"
import type { Stream } from "./cudart.ts"

export class CublasError extends Error {
  readonly _tag = "CublasError"
  constructor(
    readonly call: string,
    readonly code: number,
    readonly statusName: string,
    readonly statusString: string
  ) {
    super(`${call} failed: ${statusName} (${code}): ${statusString}`)
  }
}

koffi.opaque("cublasContext")
koffi.pointer("cublasHandle_t", "cublasContext")
const CUDA_R_16BF = 14,
  CUBLAS_COMPUTE_32F = 68,
  CUBLAS_GEMM_DEFAULT = -1,
  OP_N = 0

export function loadCublas(names = ["libcublas.so", "libcublas.so.13", "libcublas.so.12"]) {
  const loaded = findLibrary(names, "cublas")
  const { lib } = loaded
  const raw = {
    create: lib.func("int cublasCreate_v2(_Out_ cublasHandle_t *h)"),
    destroy: lib.func("int cublasDestroy_v2(cublasHandle_t h)"),
    setStream: lib.func("int cublasSetStream_v2(cublasHandle_t h, void *s)"),
    statusName: lib.func("const char *cublasGetStatusName(int s)"),
    statusString: lib.func("const char *cublasGetStatusString(int s)"),
    gemmEx: lib.func(
      "int cublasGemmEx(cublasHandle_t h, int ta, int tb, int m, int n, int k, const float *alpha, uint64_t A, int " +
        "at, int lda, uint64_t B, int bt, int ldb, const float *beta, uint64_t C, int ct, int ldc, int compute, " +
        "int algo)"
    )
  }
  const check = (call: string, code: number) => {
    if (code !== 0) throw new CublasError(call, code, String(raw.statusName(code)), String(raw.statusString(code)))
  }
  const alpha = Float32Array.of(1),
    beta = Float32Array.of(0)
  return {
    path: loaded.path,
    create: (): unknown => {
      const h: [unknown] = [null]
      check("cublasCreate", raw.create(h))
      return h[0]
    },
    destroy: (h: unknown) => check("cublasDestroy", raw.destroy(h)),
    setStream: (h: unknown, s: Stream) => check("cublasSetStream", raw.setStream(h, s)),
    /** C[m×n] = A[m×k] · B[k×n], bf16 in, bf16 out, fp32 accumulate. */
    gemm: (h: unknown, m: number, n: number, k: number, A: bigint, B: bigint, C: bigint) =>
      check(
        "cublasGemmEx",
        raw.gemmEx(
          h,
          OP_N,
          OP_N,
          m,
          n,
          k,
          alpha,
          A,
          CUDA_R_16BF,
          m,
          B,
          CUDA_R_16BF,
          k,
          beta,
          C,
          CUDA_R_16BF,
          m,
          CUBLAS_COMPUTE_32F,
          CUBLAS_GEMM_DEFAULT
        )
      )
  }
}
export type Cublas = ReturnType<typeof loadCublas>
