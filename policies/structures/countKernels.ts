/**
 * The transition tables' two hot loops (policies/transition.ts) in WebAssembly SIMD, assembled
 * here (no toolchain at build time) into one module over a memory the caller provides:
 *
 *   sumRows(out, base, add, nAdd, sub, nSub, bytes): rows of u32 counts summed, four per add:
 *     for j in [0, bytes) step 128:   out[j, j+128) = base[j, j+128)
 *                                       + Σ rows at add[0..nAdd) [j, j+128)
 *                                       − Σ rows at sub[0..nSub) [j, j+128)
 *   A 128-byte chunk (eight i32x4 accumulators) per pass over the row list: each row offset is
 *   read once for 32 counts, and `out` may be `base` (in place). `add`, `sub`: lists of i32 row
 *   offsets; rows `bytes` long, a multiple of 128. Lanes wrap modulo 2^32: unsigned sums are exact
 *   below 2^32.
 *
 *   countPairs(out, outRowBytes, a, b, rows, rowBytes): a pair count per (row i of a, row j of b)
 *   of bitsets: u32 at out + i · outRowBytes + 4j = popcount(a_i AND b_j), for i < rows and
 *   j < rows rounded up to 4 (b holds that many rows). Four b rows per pass over an a row; byte
 *   popcounts summed in i16 lanes, so rowBytes / 16 · 16 must stay below 2^16 (rowBytes < 65536).
 *
 * All arguments are byte offsets into the memory, 16-byte aligned.
 */
const I32 = 0x7f,
  V128 = 0x7b
/** Accumulators per pass: 8 × 16 bytes. */
const K = 8
export const ROW_ALIGN_BYTES = 16 * K

const uleb = (n: number): number[] => {
  const out: number[] = []
  do {
    let b = n & 0x7f
    n >>>= 7
    if (n !== 0) b |= 0x80
    out.push(b)
  } while (n !== 0)
  return out
}
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()]
const name = (s: string): number[] => vec([...Buffer.from(s)].map((b) => [b]))
const section = (id: number, bytes: number[]): number[] => [id, ...uleb(bytes.length), ...bytes]

// Instructions (the WebAssembly core and SIMD opcodes).
const get = (i: number) => [0x20, i],
  set = (i: number) => [0x21, i],
  i32c = (n: number) => [0x41, ...uleb(n)], // n < 64: the signed LEB equals the unsigned
  i32Add = [0x6a],
  i32Shl = [0x74],
  i32GeU = [0x4f],
  i32Load = [0x28, 2, 0],
  v128Load = (offset: number) => [0xfd, 0x00, 4, ...uleb(offset)],
  v128Store = (offset: number) => [0xfd, 0x0b, 4, ...uleb(offset)],
  i32x4Add = [0xfd, 0xae, 0x01],
  i32x4Sub = [0xfd, 0xb1, 0x01],
  /** `block loop (br_if 1 when cond) body (br 0) end end` */
  whileNot = (cond: number[], body: number[]) => [
    0x02,
    0x40,
    0x03,
    0x40,
    ...cond,
    0x0d,
    1,
    ...body,
    0x0c,
    0,
    0x0b,
    0x0b
  ]

// sumRows. Parameters 0..6: out, base, add, nAdd, sub, nSub, bytes; locals 7 j, 8 p, 9 end, 10 row (i32), 11.. acc.
const [OUT, BASE, ADD, N_ADD, SUB, N_SUB, BYTES, J, P, END, ROW, ACC] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
const eachAcc = (f: (k: number) => number[]) => Array.from({ length: K }, (_, k) => f(k)).flat()
/** acc_k op= row[j + 16k] for each row offset in list[0, n). */
const overRows = (list: number, n: number, op: number[]) => [
  ...get(list),
  ...set(P),
  ...get(list),
  ...get(n),
  ...i32c(2),
  ...i32Shl,
  ...i32Add,
  ...set(END),
  ...whileNot(
    [...get(P), ...get(END), ...i32GeU],
    [
      ...get(P),
      ...i32Load,
      ...get(J),
      ...i32Add,
      ...set(ROW),
      ...eachAcc((k) => [...get(ACC + k), ...get(ROW), ...v128Load(16 * k), ...op, ...set(ACC + k)]),
      ...get(P),
      ...i32c(4),
      ...i32Add,
      ...set(P)
    ]
  )
]
const sumRowsBody = [
  ...vec([
    [4, I32],
    [K, V128]
  ]),
  ...whileNot(
    [...get(J), ...get(BYTES), ...i32GeU],
    [
      ...get(BASE),
      ...get(J),
      ...i32Add,
      ...set(ROW),
      ...eachAcc((k) => [...get(ROW), ...v128Load(16 * k), ...set(ACC + k)]),
      ...overRows(ADD, N_ADD, i32x4Add),
      ...overRows(SUB, N_SUB, i32x4Sub),
      ...get(OUT),
      ...get(J),
      ...i32Add,
      ...set(ROW),
      ...eachAcc((k) => [...get(ROW), ...get(ACC + k), ...v128Store(16 * k)]),
      ...get(J),
      ...i32c(16 * K),
      ...i32Add,
      ...set(J)
    ]
  ),
  0x0b
]

// countPairs. Parameters 0..5: out, outRowBytes, a, b, rows, rowBytes; locals 6 i, 7 j, 8 k, 9 pa, 10 o,
// 11..14 pb (i32), 15 va, 16..19 acc (v128).
const [C_OUT, C_OUT_ROW, C_A, C_B, C_ROWS, C_ROW, CI, CJ, CK, PA, CO, PB, VA, CACC] = [
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 15, 16
]
const B_ROWS = 4
const eachB = (f: (r: number) => number[]) => Array.from({ length: B_ROWS }, (_, r) => f(r)).flat()
const i32Mul = [0x6c],
  v128And = [0xfd, 0x4e],
  i8x16Popcnt = [0xfd, 0x62],
  i16x8ExtaddPairwiseU = [0xfd, 0x7d],
  i32x4ExtaddPairwiseU = [0xfd, 0x7f],
  i16x8Add = [0xfd, 0x8e, 0x01],
  i32x4ExtractLane = (lane: number) => [0xfd, 0x1b, lane],
  i32Store = (offset: number) => [0x36, 2, ...uleb(offset)],
  v128Zero = [0xfd, 0x0c, ...new Array<number>(16).fill(0)],
  /** local += the value `n` pushes */
  inc = (local: number, n: number[]) => [...get(local), ...n, ...i32Add, ...set(local)],
  /** Push base + index · local `stride` (base, index: the instructions that push them). */
  scaled = (base: number[], index: number[], stride: number) => [
    ...base,
    ...index,
    ...get(stride),
    ...i32Mul,
    ...i32Add
  ]
const countPairsBody = [
  ...vec([
    [9, I32],
    [1 + B_ROWS, V128]
  ]),
  ...whileNot(
    [...get(CI), ...get(C_ROWS), ...i32GeU],
    [
      // pa = a + i · rowBytes; o = out + i · outRowBytes
      ...scaled(get(C_A), get(CI), C_ROW),
      ...set(PA),
      ...scaled(get(C_OUT), get(CI), C_OUT_ROW),
      ...set(CO),
      ...i32c(0),
      ...set(CJ),
      ...whileNot(
        [...get(CJ), ...get(C_ROWS), ...i32GeU],
        [
          // pb_r = b + (j + r) · rowBytes; acc_r = 0
          ...eachB((r) => [
            ...scaled(get(C_B), [...get(CJ), ...i32c(r), ...i32Add], C_ROW),
            ...set(PB + r),
            ...v128Zero,
            ...set(CACC + r)
          ]),
          ...i32c(0),
          ...set(CK),
          ...whileNot(
            [...get(CK), ...get(C_ROW), ...i32GeU],
            [
              ...get(PA),
              ...get(CK),
              ...i32Add,
              ...v128Load(0),
              ...set(VA),
              ...eachB((r) => [
                ...get(CACC + r),
                ...get(VA),
                ...get(PB + r),
                ...get(CK),
                ...i32Add,
                ...v128Load(0),
                ...v128And,
                ...i8x16Popcnt,
                ...i16x8ExtaddPairwiseU,
                ...i16x8Add,
                ...set(CACC + r)
              ]),
              ...inc(CK, i32c(16))
            ]
          ),
          // out[i][j + r] = the four i32 lanes of acc_r, summed
          ...eachB((r) => [
            ...get(CO),
            ...get(CJ),
            ...i32c(2),
            ...i32Shl,
            ...i32Add,
            ...get(CACC + r),
            ...i32x4ExtaddPairwiseU,
            ...set(CACC + r),
            ...[0, 1, 2, 3].flatMap((lane) => [
              ...get(CACC + r),
              ...i32x4ExtractLane(lane),
              ...(lane > 0 ? i32Add : [])
            ]),
            ...i32Store(4 * r)
          ]),
          ...inc(CJ, i32c(B_ROWS))
        ]
      ),
      ...inc(CI, i32c(1))
    ]
  ),
  0x0b
]

/** The module's bytes: imports env.mem (a shared memory of any size), exports sumRows and countPairs. */
export function countModuleBytes(): Uint8Array<ArrayBuffer> {
  const params = (n: number) => [0x60, ...vec(Array.from({ length: n }, () => [I32])), 0]
  const fn = (body: number[]) => [...uleb(body.length), ...body]
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec([params(7), params(6)])),
    ...section(2, vec([[...name("env"), ...name("mem"), 0x02, 0x03, ...uleb(0), ...uleb(65536)]])),
    ...section(3, vec([[0], [1]])),
    ...section(
      7,
      vec([
        [...name("sumRows"), 0x00, 0],
        [...name("countPairs"), 0x00, 1]
      ])
    ),
    ...section(10, vec([fn(sumRowsBody), fn(countPairsBody)]))
  ])
}

export type SumRows = (
  out: number,
  base: number,
  add: number,
  nAdd: number,
  sub: number,
  nSub: number,
  bytes: number
) => void
export type CountPairs = (
  out: number,
  outRowBytes: number,
  a: number,
  b: number,
  rows: number,
  rowBytes: number
) => void
export interface CountKernels {
  readonly sumRows: SumRows
  readonly countPairs: CountPairs
}

let module: WebAssembly.Module | null = null

/** The kernels over `memory` (compiled once per thread; instantiated per memory). */
export function countKernels(memory: WebAssembly.Memory): CountKernels {
  module ??= new WebAssembly.Module(countModuleBytes())
  const e = new WebAssembly.Instance(module, { env: { mem: memory } }).exports
  return { sumRows: e.sumRows as SumRows, countPairs: e.countPairs as CountPairs }
}
