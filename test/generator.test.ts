import { describe, expect, it } from "@jest/globals"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { loadModel } from "../base/profiles.ts"
import { readTrace } from "../traces/canonical.ts"
import { compareTraces } from "../workflows/compare.ts"
import { generateChunks, generateTrace } from "../traces/generator.ts"
import { loadGeneratorParams, presetParams } from "../traces/generatorParams.ts"
import { loadTrace } from "../traces/load.ts"
import { traceStats } from "../traces/stats.ts"
import { writeChunkedTrace } from "../traces/streamWriter.ts"
import { cli } from "./helpers/cli.ts"
import { MIXTRAL_TRACE, SHARED, tempDir, withShared } from "./helpers/fixtures.ts"

describe("the generator, fitted to the real Mixtral trace", () => {
  const params = loadGeneratorParams("mixtral-8x7b")
  withShared(MIXTRAL_TRACE, "the Mixtral generator fit")(
    "matches the unified-cache LRU miss-ratio curve within 3 points at 16 to 256 slots, and reuse within 2",
    () => {
      const real = loadTrace(MIXTRAL_TRACE, loadModel("mixtral-8x7b"))
      const syn = generateTrace(params, { tokens: real.tokens, requests: 2, seed: 1 })
      const c = compareTraces(real, syn)
      console.log(
        "slots   real    generated\n" +
          c.sizes
            .map(
              (s, i) =>
                `${String(s).padStart(5)}  ${(c.a.mrc[i]! * 100).toFixed(1).padStart(5)}%  ` +
                `${(c.b.mrc[i]! * 100).toFixed(1).padStart(5)}%`
            )
            .join("\n") +
          `\nmean previous-token reuse: real ${(c.a.mean_reuse! * 100).toFixed(1)}%, generated ` +
          `${(c.b.mean_reuse! * 100).toFixed(1)}%`
      )
      for (let i = 0; i < c.sizes.length; i++) expect(Math.abs(c.a.mrc[i]! - c.b.mrc[i]!)).toBeLessThanOrEqual(0.03)
      expect(Math.abs(c.a.mean_reuse! - c.b.mean_reuse!)).toBeLessThanOrEqual(0.02)
    }
  )
})

describe("the generator, calibrated to the OLMoE routing aggregates", () => {
  const file = join(SHARED, "traces", "routing-aggregates", "summary.json")
  const withAggregates = withShared(file, "the OLMoE aggregate calibration")
  const summary = existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : null
  const base = loadGeneratorParams("olmoe-1b-7b")
  withAggregates.each(base.domains.map((d, i) => [d.name, i] as const))(
    "%s: top-10%% share and popularity entropy within 10%% on layers 0, 7, 15",
    (domain, di) => {
      const p = { ...base, domains: base.domains.map((d, i) => ({ ...d, weight: i === di ? 1 : 0 })) }
      const s = traceStats(generateTrace(p, { tokens: 4000, requests: 8, seed: 5 }))
      for (const l of [0, 7, 15]) {
        const want = summary.per_domain.olmoe[domain].layers[String(l)].topk
        const got = s.per_layer[l]!
        expect(Math.abs(got.top10_share - want.top10pct_share) / want.top10pct_share).toBeLessThanOrEqual(0.1)
        expect(Math.abs(got.entropy - want.norm_entropy) / want.norm_entropy).toBeLessThanOrEqual(0.1)
      }
    }
  )
})

describe("generation is deterministic and streams to the canonical format", () => {
  it("the streamed file reads back equal to the trace built in memory, and twice gives the same bytes", async () => {
    const dir = tempDir("ef-gen-")
    const p = presetParams("qwen1.5-moe-a2.7b")
    const o = { tokens: 300, requests: 5, seed: 9, chunkTokens: 64 }
    const mem = generateTrace(p, o)
    const write = (f: string) =>
      writeChunkedTrace(f, p.model, mem.source, o.tokens, mem.lookaheadDepth, false, generateChunks(p, o))
    await write(join(dir, "a.eft"))
    await write(join(dir, "b.eft"))
    expect(readFileSync(join(dir, "a.eft")).equals(readFileSync(join(dir, "b.eft")))).toBe(true)
    const back = readTrace(join(dir, "a.eft"))
    for (const k of ["request", "position", "experts", "weights", "lookahead"] as const)
      expect(Array.from(back[k] as ArrayLike<number>)).toEqual(Array.from(mem[k] as ArrayLike<number>))
  })
  withShared(MIXTRAL_TRACE, "trace fit/compare on the real trace")(
    "trace gen / fit / compare work from the CLI",
    () => {
      const dir = tempDir("ef-gencli-")
      const params = join(dir, "fit.json"),
        gen = join(dir, "gen.eft")
      expect(cli(["trace", "fit", MIXTRAL_TRACE, "--model", "mixtral-8x7b", "--out", params]).code).toBe(0)
      expect(
        cli([
          "trace",
          "gen",
          "--preset",
          "mixtral-8x7b",
          "--fit",
          params,
          "--tokens",
          "200",
          "--requests",
          "2",
          "--seed",
          "3",
          "--out",
          gen
        ]).code
      ).toBe(0)
      const r = cli(["trace", "compare", MIXTRAL_TRACE, gen, "--model", "mixtral-8x7b"])
      expect(r.code).toBe(0)
      expect(r.stdout).toMatch(/LRU miss ratio, 128 slots/)
      for (const preset of ["deepseek-v3", "switch-base-128", "olmoe-1b-7b"])
        expect(
          cli(["trace", "gen", "--preset", preset, "--tokens", "20", "--out", join(dir, `${preset}.eft`)]).code
        ).toBe(0)
    }
  )
})
