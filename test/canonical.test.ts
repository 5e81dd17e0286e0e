import { describe, expect, it } from "@jest/globals"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { InputError } from "../base/errors.ts"
import { encodeTrace, readTrace, writeTrace } from "../traces/canonical.ts"
import { generateZipfTrace } from "../traces/synthetic.ts"
import { toLibCacheSimCsv } from "../traces/libcachesim.ts"
import { tinyTrace, tempDir } from "./helpers/fixtures.ts"

const dir = tempDir("ef-eft-")

describe("canonical .eft format", () => {
  it("round-trips every column, optional ones included", () => {
    const t = generateZipfTrace({
      model: { name: "m", layers: 3, experts: 16, topK: 2 },
      tokens: 50,
      requests: 3,
      skew: 1,
      seed: 7
    })
    const withOptional = {
      ...t,
      phase: Uint8Array.from({ length: 50 }, (_, i) => (i % 10 < 2 ? 1 : 0)),
      tokenId: Int32Array.from({ length: 50 }, (_, i) => 1000 + i),
      routerProbs: Float32Array.from({ length: 50 * 3 * 16 }, (_, i) => (i % 16) / 120),
      lookaheadDepth: 2,
      lookahead: Uint16Array.from({ length: 50 * 3 * 2 * 2 }, (_, i) => i % 16)
    }
    const p = join(dir, "rt.eft")
    writeTrace(p, withOptional)
    const back = readTrace(p)
    for (const k of [
      "request",
      "position",
      "phase",
      "tokenId",
      "present",
      "experts",
      "weights",
      "routerProbs",
      "lookahead"
    ] as const) {
      expect(Array.from(back[k] as ArrayLike<number>)).toEqual(Array.from(withOptional[k] as ArrayLike<number>))
    }
    expect(back.model).toEqual(t.model)
    expect(back.source).toEqual(t.source)
    expect(back.lookaheadDepth).toBe(2)
  })

  it("the generator is deterministic: same seed, same bytes", () => {
    const a = join(dir, "a.eft"),
      b = join(dir, "b.eft")
    const p = { model: { name: "m", layers: 4, experts: 32, topK: 4 }, tokens: 200, requests: 4, skew: 0.9, seed: 3 }
    writeTrace(a, generateZipfTrace(p))
    writeTrace(b, generateZipfTrace(p))
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true)
  })

  it("rejects a truncated file, naming the column", () => {
    const p = join(dir, "trunc.eft")
    writeTrace(
      p,
      generateZipfTrace({
        model: { name: "m", layers: 2, experts: 8, topK: 2 },
        tokens: 20,
        requests: 1,
        skew: 1,
        seed: 1
      })
    )
    const bytes = readFileSync(p)
    writeFileSync(p, bytes.subarray(0, bytes.length - 40))
    expect(() => readTrace(p)).toThrow(/column weights: field 'data': file truncated/)
  })

  it("rejects a corrupt file by checksum", () => {
    const p = join(dir, "corrupt.eft")
    writeTrace(
      p,
      generateZipfTrace({
        model: { name: "m", layers: 2, experts: 8, topK: 2 },
        tokens: 20,
        requests: 1,
        skew: 1,
        seed: 1
      })
    )
    const bytes = Buffer.from(readFileSync(p))
    bytes[bytes.length - 100] ^= 0xff
    writeFileSync(p, bytes)
    let err: unknown
    try {
      readTrace(p)
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(InputError)
    expect((err as InputError).field).toBe("crc32")
  })

  it("a replay's read leaves the gate weights on disk: every other column the same, still checked", () => {
    const t = generateZipfTrace({
      model: { name: "m", layers: 2, experts: 8, topK: 2 },
      tokens: 30,
      requests: 2,
      skew: 1,
      seed: 5
    })
    const p = join(dir, "replay.eft")
    writeTrace(p, t)
    const { weights, ...rest } = readTrace(p, { weights: false })
    const { weights: all, ...full } = readTrace(p)
    expect(weights).toBeNull()
    expect(Array.from(all!)).toEqual(Array.from(t.weights!))
    expect(rest).toEqual(full)
    // The weights' bytes are not read, so their checksum is not either: a flipped byte there only
    // fails the full read. Truncation inside the column, and every other column's checksum, still fail.
    const bytes = Buffer.from(readFileSync(p))
    const flipped = Buffer.from(bytes)
    flipped[bytes.length - 20] ^= 0xff // inside weights, the last column
    writeFileSync(p, flipped)
    expect(() => readTrace(p)).toThrow(/column weights: field 'crc32'/)
    expect(readTrace(p, { weights: false }).weights).toBeNull()
    writeFileSync(p, bytes.subarray(0, bytes.length - 40))
    expect(() => readTrace(p, { weights: false })).toThrow(/column weights: field 'data': file truncated/)
    const experts = Buffer.from(bytes)
    experts[bytes.length - 4 * 30 * 2 * 2 - 10] ^= 0xff // inside experts, the column before
    writeFileSync(p, experts)
    expect(() => readTrace(p, { weights: false })).toThrow(/column experts: field 'crc32'/)
    expect(() => encodeTrace({ ...t, weights: null })).toThrow(/without its gate weights/)
  })

  it("exports libCacheSim CSV in request → token → layer → expert order, skipping gaps", () => {
    const t = tinyTrace(
      [
        [
          [1, 0],
          [2, 3]
        ],
        [[3, 2], null]
      ],
      4
    )
    expect(toLibCacheSimCsv(t).join("")).toBe("time,obj_id,obj_size\n0,1,1\n1,0,1\n2,6,1\n3,7,1\n4,3,1\n5,2,1\n")
  })
})
