/**
 * The canonical trace file (.eft): a small JSON header followed by raw little-endian typed-array
 * columns, each 8-byte aligned and CRC32-checked.
 *
 *   bytes 0..7   magic "EFTRACE1"
 *   bytes 8..11  header length H (uint32 LE)
 *   bytes 12..   header JSON (UTF-8), then zero padding to a multiple of 8
 *   then         columns, in header.columns order, at header.columns[i].offset from the data start
 *
 * Why not Arrow IPC: the simulator wants flat typed arrays it can index without a library, and a
 * Python writer needs only numpy + json + zlib (see traces/recorder/eft_writer.py). Every column
 * carries its length and CRC32, so truncation and corruption are caught before a replay starts.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs"
import { crc32 } from "node:zlib"
import { requireFile } from "../base/readInput.ts"
import { Schema } from "effect"
import { InputError } from "../base/errors.ts"
import { writeFileAtomic } from "../base/atomicWrite.mjs"
import { decodeOrThrow } from "../base/schemaDecode.ts"
import { GAP, type Trace } from "./trace.ts"

const MAGIC = "EFTRACE1"
const DTYPES = { int32: Int32Array, uint8: Uint8Array, uint16: Uint16Array, float32: Float32Array } as const
type DType = keyof typeof DTYPES
type Column = Int32Array | Uint8Array | Uint16Array | Float32Array

const PositiveInt = Schema.Int.check(Schema.isGreaterThan(0))
const NonNegativeInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))

export const TraceHeaderSchema = Schema.Struct({
  format: Schema.Literals(["expertflow-trace"]),
  version: Schema.Literals([1]),
  model: Schema.Struct({ name: Schema.String, layers: PositiveInt, experts: PositiveInt, topK: PositiveInt }),
  source: Schema.Struct({ kind: Schema.String, description: Schema.String, recording: Schema.String }),
  tokens: NonNegativeInt,
  lookaheadDepth: NonNegativeInt,
  predictionDepth: Schema.optionalKey(NonNegativeInt),
  engine: Schema.optionalKey(
    Schema.Struct({
      expertBytes: Schema.Array(PositiveInt),
      accounting: Schema.Struct({
        evict: Schema.Literals(["insert", "batch"]),
        duplicates: Schema.Literals(["first", "refresh"]),
        prefill: Schema.Literals(["chunk", "token"])
      })
    })
  ),
  columns: Schema.Array(
    Schema.Struct({
      name: Schema.Literals([
        "request",
        "position",
        "phase",
        "tokenId",
        "present",
        "experts",
        "weights",
        "routerProbs",
        "lookahead",
        "predicted",
        "residency"
      ]),
      dtype: Schema.Literals(["int32", "uint8", "uint16", "float32"]),
      length: NonNegativeInt,
      offset: NonNegativeInt,
      crc32: NonNegativeInt
    })
  )
})
export type TraceHeader = typeof TraceHeaderSchema.Type

const COLUMN_SPEC: Record<string, { dtype: DType; per: (h: TraceHeader) => number; required: boolean }> = {
  request: { dtype: "int32", per: () => 1, required: true },
  position: { dtype: "int32", per: () => 1, required: true },
  phase: { dtype: "uint8", per: () => 1, required: false },
  tokenId: { dtype: "int32", per: () => 1, required: false },
  present: { dtype: "uint8", per: (h) => h.model.layers, required: true },
  experts: { dtype: "uint16", per: (h) => h.model.layers * h.model.topK, required: true },
  weights: { dtype: "float32", per: (h) => h.model.layers * h.model.topK, required: true },
  routerProbs: { dtype: "float32", per: (h) => h.model.layers * h.model.experts, required: false },
  lookahead: { dtype: "uint16", per: (h) => h.model.layers * h.lookaheadDepth * h.model.topK, required: false },
  predicted: { dtype: "uint16", per: (h) => h.model.layers * (h.predictionDepth ?? 0), required: false },
  residency: { dtype: "uint8", per: (h) => h.model.layers * h.model.topK, required: false }
}

const align8 = (n: number) => Math.ceil(n / 8) * 8 // not bitwise: columns can pass 2 GiB
const bytesOf = (c: Column) => new Uint8Array(c.buffer, c.byteOffset, c.byteLength)

/** Serialize a trace to the canonical format, atomically (temp file + rename). */
export function writeTrace(path: string, t: Trace): void {
  writeFileAtomic(path, encodeTrace(t))
}

export function encodeTrace(t: Trace): Uint8Array[] {
  if (!t.weights)
    throw new Error("encodeTrace: this trace was read without its gate weights, which the format requires")
  const cols: Array<[string, Column]> = [
    ["request", t.request],
    ["position", t.position]
  ]
  if (t.phase) cols.push(["phase", t.phase])
  if (t.tokenId) cols.push(["tokenId", t.tokenId])
  cols.push(["present", t.present], ["experts", t.experts], ["weights", t.weights])
  if (t.routerProbs) cols.push(["routerProbs", t.routerProbs])
  if (t.lookahead) cols.push(["lookahead", t.lookahead])
  if (t.predicted) cols.push(["predicted", t.predicted])
  if (t.residency) cols.push(["residency", t.residency])
  let offset = 0
  const columns = cols.map(([name, c]) => {
    const entry = { name, dtype: dtypeOf(c), length: c.length, offset, crc32: crc32(bytesOf(c)) }
    offset += align8(c.byteLength)
    return entry
  })
  const header = {
    format: "expertflow-trace",
    version: 1,
    model: t.model,
    source: t.source,
    tokens: t.tokens,
    lookaheadDepth: t.lookaheadDepth,
    ...(t.predicted ? { predictionDepth: t.predictionDepth } : {}),
    ...(t.engine ? { engine: t.engine } : {}),
    columns
  }
  const headerBytes = new TextEncoder().encode(JSON.stringify(header))
  const pre = new Uint8Array(align8(12 + headerBytes.length))
  pre.set(new TextEncoder().encode(MAGIC), 0)
  new DataView(pre.buffer).setUint32(8, headerBytes.length, true)
  pre.set(headerBytes, 12)
  const parts: Uint8Array[] = [pre]
  for (const [, c] of cols) {
    parts.push(bytesOf(c))
    const pad = align8(c.byteLength) - c.byteLength
    if (pad > 0) parts.push(new Uint8Array(pad))
  }
  return parts
}

function dtypeOf(c: Column): DType {
  if (c instanceof Int32Array) return "int32"
  if (c instanceof Uint8Array) return "uint8"
  if (c instanceof Uint16Array) return "uint16"
  return "float32"
}

export const isCanonical = (head: Uint8Array): boolean =>
  head.length >= 8 && new TextDecoder().decode(head.subarray(0, 8)) === MAGIC

/**
 * Read and fully validate a canonical trace file. `weights: false` (a replay's read) leaves the gate
 * weights column unread: its place in the file is still checked, its bytes and checksum are not.
 */
export function readTrace(path: string, { weights = true }: { weights?: boolean } = {}): Trace {
  requireFile(path) // a missing path or a folder: named as bad input
  const fd = openSync(path, "r")
  try {
    return readTraceFrom(fd, path, weights)
  } finally {
    closeSync(fd)
  }
}

/** Bytes [at, at + n) of the file, or fewer at its end. */
function readAt(fd: number, at: number, n: number): Uint8Array {
  const out = new Uint8Array(n)
  let got = 0
  while (got < n) {
    const r = readSync(fd, out, got, n - got, at + got)
    if (r === 0) break
    got += r
  }
  return got === n ? out : out.subarray(0, got)
}

/**
 * The header is parsed first; then each column is read straight into its own typed array (one
 * read, no copy of the whole file): a column must not keep the file alive, and a trace of
 * DeepSeek-V3 size loads at the speed of the disk.
 */
function readTraceFrom(fd: number, path: string, withWeights: boolean): Trace {
  const size = fstatSync(fd).size
  const pre = Buffer.from(readAt(fd, 0, Math.min(size, 12)))
  if (!isCanonical(pre)) throw new InputError(path, "header", "magic", `not an ExpertFlow trace (expected "${MAGIC}")`)
  if (pre.length < 12) throw new InputError(path, "header", "length", "file truncated inside the header")
  const hlen = pre.readUInt32LE(8)
  if (12 + hlen > size) throw new InputError(path, "header", "length", `file truncated: header needs ${hlen} bytes`)
  let json: unknown
  try {
    json = JSON.parse(Buffer.from(readAt(fd, 12, hlen)).toString("utf8"))
  } catch (e) {
    throw new InputError(path, "header", "(json)", `corrupt header: ${(e as Error).message}`)
  }
  const h = decodeOrThrow(TraceHeaderSchema, json, path, "header")
  const dataStart = align8(12 + hlen)
  const cols: Record<string, Column> = {}
  for (const c of h.columns) {
    const spec = COLUMN_SPEC[c.name]!
    const field = `columns.${c.name}`
    if (c.dtype !== spec.dtype) throw new InputError(path, "header", field, `dtype ${c.dtype}, expected ${spec.dtype}`)
    const want = h.tokens * spec.per(h)
    if (c.length !== want) throw new InputError(path, "header", field, `length ${c.length}, expected ${want}`)
    const Ctor = DTYPES[c.dtype]
    const start = dataStart + c.offset
    const byteLength = c.length * Ctor.BYTES_PER_ELEMENT
    if (start + byteLength > size) {
      throw new InputError(
        path,
        `column ${c.name}`,
        "data",
        `file truncated: column needs bytes ${start}..${start + byteLength}, file has ${size}`
      )
    }
    if (c.name === "weights" && !withWeights) continue
    // In shared memory: a worker thread of the run reads the columns in place (workflows/workerRelay.ts).
    const col = new (Ctor as new (b: SharedArrayBuffer) => Column)(new SharedArrayBuffer(byteLength))
    const bytes = new Uint8Array(col.buffer)
    for (let got = 0; got < byteLength; ) {
      const r = readSync(fd, bytes, got, byteLength - got, start + got)
      if (r === 0) throw new InputError(path, `column ${c.name}`, "data", "file truncated while reading")
      got += r
    }
    if (crc32(bytesOf(col)) !== c.crc32)
      throw new InputError(path, `column ${c.name}`, "crc32", "checksum mismatch: the file is corrupt")
    cols[c.name] = col
  }
  for (const [name, spec] of Object.entries(COLUMN_SPEC)) {
    if (spec.required && !h.columns.some((c) => c.name === name))
      throw new InputError(path, "header", `columns.${name}`, "required column missing")
  }
  const trace: Trace = {
    model: h.model,
    source: h.source,
    tokens: h.tokens,
    request: cols.request as Int32Array,
    position: cols.position as Int32Array,
    phase: (cols.phase as Uint8Array | undefined) ?? null,
    tokenId: (cols.tokenId as Int32Array | undefined) ?? null,
    present: cols.present as Uint8Array,
    experts: cols.experts as Uint16Array,
    weights: (cols.weights as Float32Array | undefined) ?? null,
    routerProbs: (cols.routerProbs as Float32Array | undefined) ?? null,
    lookaheadDepth: h.lookaheadDepth,
    lookahead: (cols.lookahead as Uint16Array | undefined) ?? null,
    predictionDepth: cols.predicted ? (h.predictionDepth ?? 0) : 0,
    predicted: (cols.predicted as Uint16Array | undefined) ?? null,
    ...(h.engine ? { engine: h.engine } : {}),
    ...(cols.residency ? { residency: cols.residency as Uint8Array } : {})
  }
  if (h.engine && h.engine.expertBytes.length !== h.model.layers)
    throw new InputError(
      path,
      "header",
      "engine.expertBytes",
      `${h.engine.expertBytes.length} entries for ${h.model.layers} layers`
    )
  validateTrace(trace, path)
  return trace
}

/** Checks every format must pass, whatever wrote it: ids in range, weights finite, requests grouped. */
export function validateTrace(t: Trace, file: string): void {
  // Column by column first (a replay reads tens of millions of ids); only a trace that fails is
  // walked record by record, for the first bad record's error.
  if (!looksValid(t)) findFirstError(t, file)
}

/** A weight column's stand-in for a trace without weights (every index reads entry 0). */
const ONES = new Float32Array(1).fill(1)

/** True when every check of validateTrace passes. */
function looksValid(t: Trace): boolean {
  const { layers: L, experts: E, topK: K } = t.model
  const { request, present, experts, weights, lookahead, predicted } = t
  const seen = new Set<number>()
  for (let i = 0; i < t.tokens; i++) {
    if (i > 0 && request[i] === request[i - 1]) continue
    if (seen.has(request[i]!)) return false
    seen.add(request[i]!)
  }
  // The cell in which each expert id was last listed: a repeat inside one cell, found in O(K).
  const listedIn = new Int32Array(E).fill(-1)
  const cells = t.tokens * L
  // One pass over the cells, ids and weights together. Without weights every index reads ONES[0]
  // (branch-free: a test per id costs a tenth more); an index past 2^31 would read undefined and
  // fail here, which only sends the check to findFirstError's record-by-record walk.
  const w = weights ?? ONES
  const wMask = weights ? -1 : 0
  for (let cell = 0; cell < cells; cell++) {
    const p = present[cell]!
    if (p === 0) continue
    if (p !== 1) return false
    for (let j = cell * K, end = j + K; j < end; j++) {
      const e = experts[j]!
      const x = w[j & wMask]!
      // GAP (0xffff) is never below E; NaN fails the weight's test too.
      if (e >= E || listedIn[e] === cell || !(x >= 0 && x < Infinity)) return false
      listedIn[e] = cell
    }
  }
  for (const ids of [lookahead, predicted])
    if (ids) for (let j = 0; j < ids.length; j++) if (ids[j]! >= E && ids[j]! !== GAP) return false
  return true
}

/** validateTrace record by record: throws the first bad record's error. */
function findFirstError(t: Trace, file: string): void {
  const { layers: L, experts: E, topK: K } = t.model
  const seen = new Set<number>()
  // The cell in which each expert id was last listed: a repeat inside one cell, found in O(K).
  const listedIn = new Float64Array(E).fill(-1)
  const weights = t.weights
  for (let i = 0; i < t.tokens; i++) {
    if (i > 0 && t.request[i] !== t.request[i - 1]) {
      if (seen.has(t.request[i]!))
        throw new InputError(file, `token ${i}`, "request", `request ${t.request[i]} is not stored contiguously`)
    }
    seen.add(t.request[i]!)
    for (let l = 0; l < L; l++) {
      const cell = i * L + l
      const present = t.present[cell]
      if (present !== 0 && present !== 1)
        throw new InputError(file, `token ${i} layer ${l}`, "present", `must be 0 or 1, got ${present}`)
      for (let k = 0; k < K; k++) {
        const e = t.experts[cell * K + k]!
        if (present === 0) continue
        if (e === GAP || e >= E)
          throw new InputError(
            file,
            `token ${i} layer ${l}`,
            `experts[${k}]`,
            `expert id ${e} out of range (experts: ${E})`
          )
        const w = weights ? weights[cell * K + k]! : 0
        if (!Number.isFinite(w) || w < 0)
          throw new InputError(
            file,
            `token ${i} layer ${l}`,
            `weights[${k}]`,
            `weight ${w} is NaN, infinite or negative`
          )
        if (listedIn[e] === cell)
          throw new InputError(file, `token ${i} layer ${l}`, `experts[${k}]`, `expert ${e} listed twice`)
        listedIn[e] = cell
      }
      const D = t.lookaheadDepth,
        P = t.predictionDepth
      if (t.lookahead)
        for (let j = 0; j < D * K; j++) {
          const e = t.lookahead[cell * D * K + j]!
          if (e !== GAP && e >= E)
            throw new InputError(
              file,
              `token ${i} layer ${l}`,
              `lookahead[${Math.floor(j / K)}][${j % K}]`,
              `expert id ${e} out of range (experts: ${E})`
            )
        }
      if (t.predicted)
        for (let j = 0; j < P; j++) {
          const e = t.predicted[cell * P + j]!
          if (e !== GAP && e >= E)
            throw new InputError(
              file,
              `token ${i} layer ${l}`,
              `predicted[${j}]`,
              `expert id ${e} out of range (experts: ${E})`
            )
        }
    }
  }
}
