import { describe, expect, it } from "@jest/globals"
import fc from "fast-check"
import { simulate } from "../workflows/simulate.ts"
import { makeTiming } from "../sim/timing.ts"
import { loadHardware, loadModel } from "../base/profiles.ts"
import { planExecution } from "../hw/plan.ts"
import { runOnVirtualGpu } from "../hw/virtualGpu.ts"
import { measure } from "../hw/measure.ts"
import { generateZipfTrace } from "../traces/synthetic.ts"
import { exactHardware, tinyModel } from "./helpers/fixtures.ts"

const POLICIES = [
  "cache=lru",
  "cache=belady",
  "cache=lru,prefetch=fixed:1,predictor=oracle",
  "cache=lru,prefetch=fixed:2,predictor=prev-token",
  "cache=two-level-lru,prefetch=adaptive,predictor=transition,order=resident-first",
  "cache=plec,prefetch=path,predictor=route-path",
  "cache=belady,prefetch=window:3,predictor=oracle",
  "cache=pin:0.5"
]

describe("the executor's plan keeps every dependency the engine assumed", () => {
  it("an ideal GPU running the plan reproduces the simulated timeline exactly", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1000 }),
        fc.constantFrom(...POLICIES),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 0, max: 6 }),
        fc.integer({ min: 1, max: 2 }),
        (seed, policy, batch, extra, engines) => {
          const trace = generateZipfTrace({
            model: { name: "m", layers: 4, experts: 8, topK: 2 },
            tokens: 24,
            requests: 3,
            skew: 0.7,
            seed
          })
          const hw = exactHardware(40 + (seed % 7) * 13, 5 + (seed % 3), 3, engines)
          const model = tinyModel(4, 8, 2)
          const out = simulate({
            trace,
            traceName: "t",
            model,
            hardware: hw,
            policy,
            mode: "timed",
            cacheSlots: 2 * batch * 2 + extra,
            batch,
            perLayer: false,
            seed: 0,
            timeline: true,
            commands: true
          })
          const plan = planExecution(out.commands!, engines)
          const m = measure(plan, runOnVirtualGpu(plan, makeTiming(model, hw)), 4, 8)
          expect([m.totalNs, m.computeNs, m.stallNs, m.transfers]).toEqual([
            out.record.total_ns,
            out.record.compute_ns,
            out.record.stall_ns,
            out.record.transfers_h2d
          ])
          const spans = (
            tl: { spans: Array<{ cat: string; name: string; start: number; end: number }> },
            cat: string
          ) => tl.spans.filter((s) => s.cat === cat).map((s) => `${s.name}@${s.start}-${s.end}`)
          for (const cat of ["expert", "non-expert"]) expect(spans(m.timeline, cat)).toEqual(spans(out.timeline!, cat))
          expect(spans(m.timeline, "demand").concat(spans(m.timeline, "prefetch")).sort()).toEqual(
            spans(out.timeline!, "demand").concat(spans(out.timeline!, "prefetch")).sort()
          )
        }
      ),
      { numRuns: 150, seed: 99 }
    )
  })

  it("holds on the preset timing model too (real Mixtral sizes on an H100 profile)", () => {
    const m = loadModel("mixtral-8x7b"),
      hw = loadHardware("h100-pcie")
    const trace = generateZipfTrace({
      model: { name: m.id, layers: 32, experts: 8, topK: 2 },
      tokens: 40,
      requests: 2,
      skew: 0.5,
      seed: 3
    })
    const out = simulate({
      trace,
      traceName: "t",
      model: m,
      hardware: hw,
      policy: "cache=lru,prefetch=fixed:2,predictor=oracle",
      mode: "timed",
      cacheSlots: 96,
      batch: 1,
      perLayer: false,
      seed: 0,
      timeline: false,
      commands: true
    })
    const plan = planExecution(out.commands!, 1)
    const meas = measure(plan, runOnVirtualGpu(plan, makeTiming(m, hw)), 32, 8)
    expect([meas.totalNs, meas.stallNs]).toEqual([out.record.total_ns, out.record.stall_ns])
  })
})
