import { describe, expect, it } from "@jest/globals"
import { simulate } from "../workflows/simulate.ts"
import { exactHardware, tinyModel, tinyTrace } from "./helpers/fixtures.ts"

// 2 layers × 4 experts, top-1, 3 tokens: (L0,L1) = (e0,e1), (e0,e2), (e3,e1). 2 slots, unified.
// Every transfer 100 ns, every expert FFN 10 ns, every layer's non-expert part 5 ns.
const trace = tinyTrace(
  [
    [[0], [1]],
    [[0], [2]],
    [[3], [1]]
  ],
  4
)
const run = (policy: string) =>
  simulate({
    trace,
    traceName: "tiny",
    model: tinyModel(2, 4, 1),
    hardware: exactHardware(100, 10, 5),
    policy,
    mode: "timed",
    cacheSlots: 2,
    batch: 1,
    perLayer: false,
    seed: 0,
    timeline: true
  })
const spans = (out: ReturnType<typeof run>, cat: string) =>
  out.timeline!.spans.filter((s) => s.cat === cat).map((s) => [s.name, s.start, s.end])

describe("hand-computed timeline", () => {
  it("on-demand LRU", () => {
    // t0 L0: attn 0-5, miss e0 load 5-105 (stall 100), FFN 105-115
    // t0 L1: attn 115-120, miss e1 load 120-220, FFN 220-230
    // t1 L0: attn 230-235, hit e0, FFN 235-245
    // t1 L1: attn 245-250, miss e2 (evict L1e1, LRU) load 250-350, FFN 350-360
    // t2 L0: attn 360-365, miss e3 (evict L0e0) load 365-465, FFN 465-475
    // t2 L1: attn 475-480, miss e1 (evict L1e2) load 480-580, FFN 580-590
    const out = run("cache=lru")
    const r = out.record
    expect([r.total_ns, r.compute_ns, r.stall_ns, r.hits, r.late_hits, r.misses]).toEqual([590, 90, 500, 1, 0, 5])
    expect(spans(out, "demand")).toEqual([
      ["H2D L0 E0", 5, 105],
      ["H2D L1 E1", 120, 220],
      ["H2D L1 E2", 250, 350],
      ["H2D L0 E3", 365, 465],
      ["H2D L1 E1", 480, 580]
    ])
    expect(spans(out, "expert").map((s) => s[1])).toEqual([105, 220, 235, 350, 465, 580])
    expect(spans(out, "stall")).toEqual([
      ["wait L0 E0", 5, 105],
      ["wait L1 E1", 120, 220],
      ["wait L1 E2", 250, 350],
      ["wait L0 E3", 365, 465],
      ["wait L1 E1", 480, 580]
    ])
  })

  it("fixed-step oracle prefetch, S = 1", () => {
    // t0 L0: attn 0-5; miss e0 demand 5-105; prefetch L1e1 queued at 5; FFN 105-115
    // t0 L1: attn 115-120; prefetch L1e1 started 105-205 (late hit); stall 120-205; FFN 205-215
    // t1 L0: attn 215-220; hit e0; prefetch L1e2 evicts L1e1; FFN 220-230
    // t1 L1: attn 230-235; L1e2 in flight 220-320 (late); prefetch L0e3 evicts L0e0; stall 235-320; FFN 320-330
    // t2 L0: attn 330-335; L0e3 320-420 (late); prefetch L1e1 evicts L1e2; stall 335-420; FFN 420-430
    // t2 L1: attn 430-435; L1e1 420-520 (late); stall 435-520; FFN 520-530
    const out = run("cache=lru,prefetch=fixed:1,predictor=oracle")
    const r = out.record
    expect([r.total_ns, r.compute_ns, r.stall_ns, r.hits, r.late_hits, r.misses]).toEqual([530, 90, 440, 1, 4, 1])
    expect([r.prefetches_issued, r.prefetches_used, r.prefetches_wasted]).toEqual([4, 4, 0])
    expect(spans(out, "prefetch")).toEqual([
      ["H2D L1 E1", 105, 205],
      ["H2D L1 E2", 220, 320],
      ["H2D L0 E3", 320, 420],
      ["H2D L1 E1", 420, 520]
    ])
    expect(spans(out, "stall").map((s) => [s[1], s[2]])).toEqual([
      [5, 105],
      [120, 205],
      [235, 320],
      [335, 420],
      [435, 520]
    ])
  })
})

describe("hand-computed timeline: a layer needing more experts than the cache holds", () => {
  // 2 layers × 4 experts, top-1, one batch of 3 tokens: layer 0 needs e0, e1, e2; layer 1 needs e1.
  // 2 slots: e2 cannot load at the gate; it streams into e0's slot once e0 has run.
  const streamed = (mode: "timed" | "cache-only") =>
    simulate({
      trace: tinyTrace(
        [
          [[0], [1]],
          [[1], [1]],
          [[2], [1]]
        ],
        4,
        [0, 1, 2]
      ),
      traceName: "tiny",
      model: tinyModel(2, 4, 1),
      hardware: exactHardware(100, 10, 5),
      policy: "cache=lru",
      mode,
      cacheSlots: 2,
      batch: 3,
      perLayer: false,
      seed: 0,
      timeline: mode === "timed"
    })
  it("streams the third expert after the first has run (on-demand LRU)", () => {
    const out = streamed("timed")
    // L0: attn 0-5; e0 5-105, e1 105-205 (one copy engine); e2 has no slot.
    //     FFN e0 105-115; e2 evicts e0 (the only unpinned expert) and loads 205-305 behind e1.
    //     FFN e1 205-215; FFN e2 305-315.
    // L1: attn 315-320; L1e1 evicts L0e1 (least recent) and loads 320-420; FFN 420-430.
    const r = out.record
    expect([r.total_ns, r.stall_ns, r.misses, r.hits]).toEqual([430, 380, 4, 0])
    expect(r.policy_detail.streamed_loads).toBe(1)
    expect(spans(out, "demand")).toEqual([
      ["H2D L0 E0", 5, 105],
      ["H2D L0 E1", 105, 205],
      ["H2D L0 E2", 205, 305],
      ["H2D L1 E1", 320, 420]
    ])
    expect(spans(out, "expert").map((s) => s[1])).toEqual([105, 205, 305, 420])
  })
  it("cache-only replay still refuses it (no time, so no slot ever frees)", () => {
    expect(() => streamed("cache-only")).toThrow(
      /impossible cache size: 2 slots but this layer needs 3 experts at once/
    )
  })
})
