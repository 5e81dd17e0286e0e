/**
 * Sums of count rows in WebAssembly SIMD: the transition tables' hot loop (policies/transition.ts),
 * four 32-bit counts per add where plain JS adds one number at a time. The module is a single
 * function, assembled here (no toolchain at build time), over a memory the caller provides:
 *
 *   sumRows(out, base, add, nAdd, sub, nSub, bytes):
 *     for j in [0, bytes) step 128:   out[j, j+128) = base[j, j+128)
 *                                       + Σ rows at add[0..nAdd) [j, j+128)
 *                                       − Σ rows at sub[0..nSub) [j, j+128)
 *
 * All arguments are byte offsets into the memory (`add`, `sub`: lists of i32 row offsets); rows are
 * `bytes` long, a multiple of 128, and 16-byte aligned. Lanes wrap modulo 2^32, so unsigned sums
 * are exact while they stay below 2^32. A 128-byte chunk (eight i32x4 accumulators) per pass over
 * the row list: each row offset is read once for 32 counts, and `out` may be `base` (in place).
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

// Parameters 0..6: out, base, add, nAdd, sub, nSub, bytes; locals 7 j, 8 p, 9 end, 10 row (i32), 11.. acc (v128).
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
const body = [
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

/** The module's bytes: imports env.mem (a shared memory of any size), exports sumRows. */
export function rowSumModuleBytes(): Uint8Array<ArrayBuffer> {
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec([[0x60, ...vec(Array.from({ length: 7 }, () => [I32])), 0]])),
    ...section(2, vec([[...name("env"), ...name("mem"), 0x02, 0x03, ...uleb(0), ...uleb(65536)]])),
    ...section(3, vec([[0]])),
    ...section(7, vec([[...name("sumRows"), 0x00, 0]])),
    ...section(10, vec([[...uleb(body.length), ...body]]))
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

let module: WebAssembly.Module | null = null

/** sumRows over `memory` (compiled once per thread; instantiated per memory). */
export function rowSumKernel(memory: WebAssembly.Memory): SumRows {
  module ??= new WebAssembly.Module(rowSumModuleBytes())
  return new WebAssembly.Instance(module, { env: { mem: memory } }).exports.sumRows as SumRows
}
