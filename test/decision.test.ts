import { describe, expect, it } from "@jest/globals"
import { decisionRows, isOfflineBound, isOnDemandLru, policyNotes } from "../reports/decision.ts"
import type { CellResult } from "../workflows/runCell.ts"

/** A timed result with only what the decision reads. */
const run = (label: string, policy: string, cache: string, stallS: number, extra: Partial<CellResult> = {}) =>
  ({
    trace: "t",
    mode: "timed",
    hardware: "h100-pcie",
    batch_size: 1,
    cache_spec: cache,
    cache_slots: cache === "64 slots" ? 64 : 128,
    policy,
    policy_label: label,
    stall_ns: stallS * 1e9,
    total_ns: 10e9,
    stall_fraction: stallS / 10,
    misses: 0,
    accesses: 100,
    prefetches_issued: 10,
    prefetches_dropped: 0,
    policy_detail: {},
    per_layer_hit_rate: new Array(4).fill(0.5),
    ...extra
  }) as CellResult

describe("the report's decision table", () => {
  const results = [
    run("LRU", "cache=lru", "64 slots", 8),
    run("fixed", "cache=lru,prefetch=fixed:1,predictor=transition", "64 slots", 6),
    run("ef-a", "cache=two-level-lru,prefetch=adaptive,predictor=hybrid", "64 slots", 6.3),
    run("bound", "cache=belady,prefetch=window:3,predictor=oracle", "64 slots", 2),
    run("LRU", "cache=lru", "128 slots", 4),
    run("fixed", "cache=lru,prefetch=fixed:1,predictor=transition", "128 slots", 4.4),
    run("ef-a", "cache=two-level-lru,prefetch=adaptive,predictor=hybrid", "128 slots", 4.2),
    run("bound", "cache=belady,prefetch=window:3,predictor=oracle", "128 slots", 1)
  ]
  it("names the best deployable policy per cache size, its saving, the runner-up and the bound's headroom", () => {
    const rows = decisionRows(results)
    expect(rows.map((r) => [r.cache, r.best])).toEqual([
      ["64 slots", "fixed"],
      ["128 slots", "LRU"]
    ])
    expect(rows[0]!.vsOnDemand).toBeCloseTo(-0.25, 9) // 6 s against 8 s
    expect(rows[0]!.runnerUp).toBe("ef-a")
    expect(rows[0]!.runnerUpGap).toBeCloseTo(0.05, 9) // 6.3 against 6
    expect(rows[0]!.bound).toBe(2)
    expect(rows[0]!.toBound).toBeCloseTo(4 / 6, 9)
    expect(rows[1]!.vsOnDemand).toBe(0) // LRU is best: it saves nothing against itself
  })
  it("tells the bounds and the baseline apart by their specs", () => {
    expect(isOfflineBound("cache=belady")).toBe(true)
    expect(isOfflineBound("cache=lru,prefetch=fixed:1,predictor=oracle")).toBe(true)
    expect(isOfflineBound("cache=lru,prefetch=fixed:1,predictor=transition")).toBe(false)
    expect(isOnDemandLru("cache=lru")).toBe(true)
    expect(isOnDemandLru("cache=lru,layout=per-layer,evict=batch")).toBe(true)
    expect(isOnDemandLru("cache=lru,prefetch=fixed:1,predictor=pregate")).toBe(false)
  })
  it("notes policies that did nothing or saturated, from their counters", () => {
    const notes = policyNotes([
      run("LRU", "cache=lru", "64 slots", 8),
      run("idle", "cache=lru,prefetch=fixed:1,predictor=prev-token", "64 slots", 8, { prefetches_issued: 0 }),
      run("ef-a", "cache=two-level-lru,prefetch=adaptive,predictor=hybrid", "64 slots", 7, {
        policy_detail: { S: { mean: 3, min: 3, max: 3, changes: [] } }
      })
    ])
    expect(notes.map((n) => n.policy)).toEqual(["idle", "idle", "ef-a"])
    expect(notes[0]!.note).toMatch(/issued no prefetch/)
    expect(notes[1]!.note).toMatch(/within 0.1% of on-demand LRU/)
    expect(notes[2]!.note).toMatch(/S stayed at its cap L − 1/)
  })
})
