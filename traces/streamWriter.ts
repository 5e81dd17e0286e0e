/**
 * Writes a canonical .eft file from generated chunks without holding the trace in memory. Column
 * sizes are known from the token count, so every column's place in the file is fixed up front;
 * chunks are written in place and each column's CRC32 is carried along chunk by chunk. The header
 * (with the CRCs) is written last, padded with spaces to the length reserved for it; the file is
 * written under a temporary name and renamed at the end, so a failure leaves nothing behind.
 */
import { fstatSync, ftruncateSync, writeSync } from "node:fs"
import { crc32 } from "node:zlib"
import { writeViaTempAsync } from "../base/atomicWrite.mjs"
import type { Chunk } from "./generator.ts"
import type { TraceModel, TraceSource } from "./trace.ts"

const align8 = (n: number) => Math.ceil(n / 8) * 8 // not bitwise: columns can pass 2 GiB

export async function writeChunkedTrace(
  path: string,
  model: TraceModel,
  source: TraceSource,
  tokens: number,
  lookaheadDepth: number,
  hasPhase: boolean,
  chunks: Iterable<Chunk>
): Promise<void> {
  const { layers: L, topK: K } = model
  const D = lookaheadDepth
  const specs: Array<[string, "int32" | "uint8" | "uint16" | "float32", number, number]> = [
    ["request", "int32", 1, 4],
    ["position", "int32", 1, 4],
    ...(hasPhase ? [["phase", "uint8", 1, 1] as [string, "uint8", number, number]] : []),
    ["present", "uint8", L, 1],
    ["experts", "uint16", L * K, 2],
    ["weights", "float32", L * K, 4],
    ...(D > 0 ? [["lookahead", "uint16", L * D * K, 2] as [string, "uint16", number, number]] : [])
  ]
  let offset = 0
  const columns = specs.map(([name, dtype, per, size]) => {
    const c = { name, dtype, length: tokens * per, offset, crc32: 0xffffffff }
    offset += align8(tokens * per * size)
    return c
  })
  const header = (cols: typeof columns) =>
    JSON.stringify({ format: "expertflow-trace", version: 1, model, source, tokens, lookaheadDepth: D, columns: cols })
  const reserved = Buffer.byteLength(header(columns)) // the placeholder CRCs have the widest form
  const dataStart = align8(12 + reserved)
  await writeViaTempAsync(path, async (fd) => {
    const crcs = new Map<string, number>(columns.map((c) => [c.name, 0]))
    const put = (name: string, bytes: Uint8Array, at: number) => {
      const col = columns.find((c) => c.name === name)!
      writeSync(fd, bytes, 0, bytes.length, dataStart + col.offset + at)
      crcs.set(name, crc32(bytes, crcs.get(name)!))
    }
    const view = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength)
    for (const c of chunks) {
      // Yield between chunks: an interrupt (Ctrl-C, SIGTERM) is handled mid-way, not at the end.
      await new Promise((r) => setImmediate(r))
      put("request", view(c.request), c.from * 4)
      put("position", view(c.position), c.from * 4)
      if (hasPhase) put("phase", view(c.phase), c.from)
      put("present", new Uint8Array(c.tokens * L).fill(1), c.from * L)
      put("experts", view(c.experts), c.from * L * K * 2)
      put("weights", view(c.weights), c.from * L * K * 4)
      if (D > 0) put("lookahead", view(c.lookahead!), c.from * L * D * K * 2)
    }
    const final = Buffer.from(header(columns.map((c) => ({ ...c, crc32: crcs.get(c.name)! }))).padEnd(reserved, " "))
    const pre = Buffer.alloc(12)
    pre.write("EFTRACE1", 0, "latin1")
    pre.writeUInt32LE(reserved, 8)
    writeSync(fd, pre, 0, 12, 0)
    writeSync(fd, final, 0, final.length, 12)
    // The file ends at the last column's aligned end (zero padding), whatever the chunks covered.
    if (fstatSync(fd).isFile()) ftruncateSync(fd, dataStart + offset)
  })
}
