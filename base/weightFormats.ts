/**
 * Expert weight formats and their exact byte counts. A format names how one weight matrix of
 * `rows` output channels × `cols` inputs is stored; every count below states its formula and the
 * layout it comes from, so a preset's expert size can be checked by hand.
 *
 *   bf16, fp16              2 B per weight
 *   fp8                     1 B per weight + one fp32 scale per output channel (per-channel, as
 *                           vLLM's FP8 checkpoints store `weight_scale`)
 *   fp8-block128            1 B per weight + one fp32 scale per 128×128 block (DeepSeek-V3's
 *                           `weight_block_size: [128, 128]`, `weight_scale_inv`)
 *   int{2,3,4,8}-g{G}       GPTQ/AWQ: bits/8 B per weight + per group of G inputs per output
 *                           channel one fp16 scale (2 B) and one packed zero point (bits/8 B)
 *   hqq{2,3,4,8}-g{G}       HQQ without meta-quantization: bits/8 B per weight + fp16 scale and
 *                           fp16 zero (4 B) per group of G weights
 *   q4_0 … q8_0, q2_k … q6_k GGUF blocks (ggml-common.h): q4_0 18 B / 32 weights, q4_1 20, q5_0 22,
 *                           q5_1 24, q8_0 34 B / 32; q2_k 84 B / 256, q3_k 110, q4_k 144, q5_k 176,
 *                           q6_k 210 B / 256. llama.cpp stores a k-quant matrix whose rows are not a
 *                           multiple of 256 in a 32-block fallback (q4_k → q5_0, q6_k → q8_0), so a
 *                           real file's mix names the fallback type.
 *   gguf:A/B/C              a GGUF mix per expert matrix (gate/up/down), e.g. gguf:q4_k/q4_k/q6_k
 *
 * Dequantization is charged as work per weight (`dequantOpsPerWeight`) on top of the GEMM's
 * 2·params·tokens flops; a measured FFN table replaces the roofline altogether.
 */
import { UsageError } from "./errors.ts"

export interface WeightFormat {
  /** The spelling, as written in a preset suffix or a profile. */
  readonly id: string
  /** Bytes of one weight matrix (`rows` output channels × `cols` inputs) in this format. */
  matrixBytes(rows: number, cols: number, matrix: number): number
  /** Arithmetic per weight to turn it back into bf16 before the GEMM (0 for bf16). */
  readonly dequantOpsPerWeight: number
  /** How the byte count is computed, for the profile's `sources`. */
  readonly formula: string
}

/** GGUF block types: bytes per block and weights per block (ggml-common.h). */
const GGUF_BLOCKS: Readonly<Record<string, { bytes: number; weights: number }>> = {
  q4_0: { bytes: 18, weights: 32 },
  q4_1: { bytes: 20, weights: 32 },
  q5_0: { bytes: 22, weights: 32 },
  q5_1: { bytes: 24, weights: 32 },
  q8_0: { bytes: 34, weights: 32 },
  q2_k: { bytes: 84, weights: 256 },
  q3_k: { bytes: 110, weights: 256 },
  q4_k: { bytes: 144, weights: 256 },
  q5_k: { bytes: 176, weights: 256 },
  q6_k: { bytes: 210, weights: 256 }
}

const ceilDiv = (a: number, b: number) => Math.ceil(a / b)

function plain(id: string, bytes: number): WeightFormat {
  return {
    id,
    matrixBytes: (rows, cols) => rows * cols * bytes,
    dequantOpsPerWeight: 0,
    formula: `${bytes} B per weight`
  }
}

function gguf(type: string): WeightFormat {
  const b = GGUF_BLOCKS[type]
  if (!b) throw new UsageError(`unknown GGUF type '${type}' (${Object.keys(GGUF_BLOCKS).join(", ")})`)
  return {
    id: type,
    // GGUF quantizes rows of `cols` weights in blocks; llama.cpp requires cols % block == 0.
    matrixBytes: (rows, cols) => rows * ceilDiv(cols, b.weights) * b.bytes,
    dequantOpsPerWeight: 2,
    formula: `GGUF ${type}: ${b.bytes} B per block of ${b.weights} weights (ggml-common.h)`
  }
}

/** Parse a weight format; throws a UsageError naming the accepted spellings. */
export function parseWeightFormat(text: string): WeightFormat {
  const t = text.trim().toLowerCase()
  if (t === "bf16" || t === "fp16") return plain(t, 2)
  if (t === "fp8") {
    return {
      id: t,
      matrixBytes: (rows, cols) => rows * cols + rows * 4,
      dequantOpsPerWeight: 1,
      formula: "fp8 e4m3: 1 B per weight + fp32 scale per output channel"
    }
  }
  if (t === "fp8-block128") {
    return {
      id: t,
      matrixBytes: (rows, cols) => rows * cols + ceilDiv(rows, 128) * ceilDiv(cols, 128) * 4,
      dequantOpsPerWeight: 1,
      formula: "fp8 e4m3: 1 B per weight + fp32 scale per 128×128 block"
    }
  }
  // Group-quantized integers: bits/8 B per weight plus, per group, GPTQ/AWQ's fp16 scale and packed
  // zero per output row, or HQQ's fp16 scale and fp16 zero per group of weights.
  const grouped = /^(int|hqq)([2348])-g(\d+)$/.exec(t)
  if (grouped) {
    const hqq = grouped[1] === "hqq",
      bits = Number(grouped[2]),
      g = Number(grouped[3])
    if (g < 1) throw new UsageError(`weight format '${text}': group size must be ≥ 1`)
    return {
      id: t,
      matrixBytes: hqq
        ? (rows, cols) => (rows * cols * bits) / 8 + ceilDiv(rows * cols, g) * 4
        : (rows, cols) => (rows * cols * bits) / 8 + rows * ceilDiv(cols, g) * (2 + bits / 8),
      dequantOpsPerWeight: 2,
      formula: hqq
        ? `HQQ ${bits}-bit, group ${g}: ${bits}/8 B per weight + fp16 scale and fp16 zero per group`
        : `GPTQ/AWQ int${bits}, group ${g}: ${bits}/8 B per weight + per group fp16 scale + ${bits}-bit zero`
    }
  }
  if (t in GGUF_BLOCKS) return gguf(t)
  const mix = /^gguf:([a-z0-9_]+)\/([a-z0-9_]+)\/([a-z0-9_]+)$/.exec(t)
  if (mix) {
    const parts = [gguf(mix[1]!), gguf(mix[2]!), gguf(mix[3]!)]
    return {
      id: t,
      matrixBytes: (rows, cols, matrix) => parts[Math.min(matrix, 2)]!.matrixBytes(rows, cols, 0),
      dequantOpsPerWeight: 2,
      formula: `GGUF mix gate/up/down ${mix[1]}/${mix[2]}/${mix[3]} (ggml-common.h block sizes)`
    }
  }
  throw new UsageError(
    `unknown weight format '${text}': bf16, fp16, fp8, fp8-block128, int{2,3,4,8}-g{G}, hqq{2,3,4,8}-g{G}, ` +
      `${Object.keys(GGUF_BLOCKS).join(", ")}, gguf:A/B/C`
  )
}

/**
 * Bytes of one expert: `matrices` matrices of hidden × intermediate (gate and up: intermediate
 * rows × hidden inputs; down: hidden rows × intermediate inputs).
 */
export function expertBytesIn(f: WeightFormat, hidden: number, intermediate: number, matrices: number): number {
  let bytes = 0
  for (let m = 0; m < matrices; m++) {
    const down = m === matrices - 1 && matrices > 1
    bytes += down ? f.matrixBytes(hidden, intermediate, 2) : f.matrixBytes(intermediate, hidden, m)
  }
  return Math.ceil(bytes)
}
