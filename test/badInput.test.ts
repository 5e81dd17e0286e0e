import { describe, expect, it } from "@jest/globals"
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { InputError } from "../base/errors.ts"
import { loadHardware, loadModel } from "../base/profiles.ts"
import { simulate } from "../workflows/simulate.ts"
import { importVllmJsonl } from "../traces/vllmJsonl.ts"
import { cli } from "./helpers/cli.ts"
import { tempDir } from "./helpers/fixtures.ts"

const model = { name: "m", layers: 2, experts: 4, topK: 2 }
const line = (o: object) =>
  JSON.stringify({ problem_id: 0, token_idx: 0, layer: 0, experts: [0, 1], gating_probs: [0.6, 0.4], ...o })
const good = [line({}), line({ layer: 1 }), line({ token_idx: 1 }), line({ token_idx: 1, layer: 1 })]
const expectInputError = (text: string, record: string, field: string) => {
  let err: unknown
  try {
    importVllmJsonl("bad.jsonl", model, text)
  } catch (e) {
    err = e
  }
  expect(err).toBeInstanceOf(InputError)
  const ie = err as InputError
  expect([ie.file, ie.record, ie.field]).toEqual(["bad.jsonl", record, field])
}

describe("bad input names the file, record and field", () => {
  it("accepts the good file", () => {
    expect(importVllmJsonl("good.jsonl", model, `${good.join("\n")}\n`).tokens).toBe(2)
  })
  it("malformed JSON line", () =>
    expectInputError(`${[good[0], "{not json", good[1]].join("\n")}\n`, "line 2", "(json)"))
  it("truncated last line", () =>
    expectInputError(`${good.join("\n")}\n${line({ token_idx: 2 }).slice(0, 30)}`, "line 5", "(json)"))
  it("missing field", () =>
    expectInputError(
      [good[0], JSON.stringify({ problem_id: 0, token_idx: 0, layer: 1, experts: [0, 1] })].join("\n"),
      "line 2",
      "gating_probs"
    ))
  it("expert id ≥ E", () =>
    expectInputError([good[0], line({ layer: 1, experts: [0, 4] })].join("\n"), "line 2", "experts[1]"))
  it("layer ≥ L", () => expectInputError([good[0], line({ layer: 2 })].join("\n"), "line 2", "layer"))
  it("NaN weight", () =>
    expectInputError([good[0], line({ layer: 1 }).replace("0.6", "NaN")].join("\n"), "line 2", "gating_probs[0]"))
  it("negative weight", () =>
    expectInputError([good[0], line({ layer: 1, gating_probs: [-0.1, 1.1] })].join("\n"), "line 2", "gating_probs[0]"))
  it("duplicate (token, layer)", () => expectInputError([good[0], good[1], line({})].join("\n"), "line 3", "layer"))
  it("a gap (token missing a layer) is accepted and counted, not an error", () => {
    const t = importVllmJsonl("gap.jsonl", model, [good[0], good[1], good[2]].join("\n"))
    expect(Array.from(t.present)).toEqual([1, 1, 1, 0])
  })
  it("impossible cache size", () => {
    const t = importVllmJsonl("good.jsonl", model, good.join("\n"))
    const m = { ...loadModel("mixtral-8x7b"), layers: 2, experts: 4, topK: 2 }
    expect(() =>
      simulate({
        trace: t,
        traceName: "good.jsonl",
        model: m,
        hardware: loadHardware("h100-pcie"),
        policy: "cache=lru",
        mode: "cache-only",
        cacheSlots: 1,
        batch: 1,
        perLayer: false,
        seed: 0,
        timeline: false
      })
    ).toThrow(/impossible cache size: 1 slots but this layer needs 2 experts/)
  })
  it("unknown preset", () => {
    expect(() => loadModel("mixtral-9x9b")).toThrow(InputError)
    expect(() => loadHardware("h900")).toThrow(/unknown hardware preset/)
  })
})

describe("the CLI exits 2 on bad input and writes nothing", () => {
  const dir = tempDir("ef-bad-")
  it("bad JSONL: exit 2, one clear line, no output file", () => {
    const bad = join(dir, "bad.jsonl")
    writeFileSync(bad, `${[line({}), line({ layer: 1, experts: [0, 9] })].join("\n")}\n`)
    const out = join(dir, "result.json")
    const r = cli([
      "simulate",
      "--trace",
      bad,
      "--model",
      "mixtral-8x7b",
      "--policy",
      "cache=lru",
      "--cache-slots",
      "64",
      "--out",
      out
    ])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/bad\.jsonl: line 2: field 'experts\[1\]': expert id 9 out of range/)
    expect(existsSync(out)).toBe(false)
    expect(readdirSync(dir).filter((f) => f.includes(".tmp"))).toEqual([])
  })
  it("unknown preset: exit 2", () => {
    expect(
      cli([
        "simulate",
        "--trace",
        join(dir, "none.jsonl"),
        "--model",
        "nope",
        "--policy",
        "cache=lru",
        "--cache-slots",
        "4"
      ]).code
    ).toBe(2)
  })
  it("usage errors: exit 1", () => {
    expect(cli(["simulate", "--bogus"]).code).toBe(1)
    const bad = join(dir, "ok.jsonl")
    writeFileSync(bad, `${line({})}\n`)
    expect(
      cli(["simulate", "--trace", bad, "--model", "mixtral-8x7b", "--policy", "cache=nope", "--cache-slots", "4"]).code
    ).toBe(1)
  })
  it("a good run prints exactly one JSON object with --format json", () => {
    const ok = join(dir, "good.jsonl")
    writeFileSync(ok, `${Array.from({ length: 32 }, (_, l) => line({ layer: l })).join("\n")}\n`)
    const r = cli([
      "simulate",
      "--trace",
      ok,
      "--model",
      "mixtral-8x7b",
      "--policy",
      "cache=lru",
      "--cache-slots",
      "64",
      "--format",
      "json"
    ])
    expect(r.code).toBe(0)
    const rec = JSON.parse(r.stdout)
    expect(rec.accesses).toBe(64)
    expect(r.stdout.trim().split("\n")).toHaveLength(1)
    expect(readFileSync(ok, "utf8").length).toBeGreaterThan(0)
  })
})
