import { describe, expect } from "@jest/globals"
import { loadModel, loadHardware } from "../base/profiles.ts"
import { simulate } from "../workflows/simulate.ts"
import { loadTrace } from "../traces/load.ts"
import { haveSharedTrace, MIXTRAL_TRACE, withShared } from "./helpers/fixtures.ts"

// The real Mixtral trace's reference figures (its README; libCacheSim on the same access stream).
describe("golden: real Mixtral-8x7B trace, cache-only, unified cache", () => {
  const model = loadModel("mixtral-8x7b")
  const withTrace = withShared(MIXTRAL_TRACE, "the golden numbers of the real Mixtral trace")
  const trace = haveSharedTrace ? loadTrace(MIXTRAL_TRACE, model) : null
  const run = (policy: string, slots: number) =>
    simulate({
      trace: trace!,
      traceName: "mixtral",
      model,
      hardware: loadHardware("h100-pcie"),
      policy,
      mode: "cache-only",
      cacheSlots: slots,
      batch: 1,
      perLayer: false,
      seed: 0,
      timeline: false
    }).record

  withTrace.each([
    ["cache=lru", 64, 14149],
    ["cache=lru", 128, 9251],
    ["cache=belady", 64, 8283],
    ["cache=belady", 128, 3901]
  ])("%s at %i slots misses exactly %i of 21558", (policy, slots, misses) => {
    const r = run(policy as string, slots as number)
    expect(r.accesses).toBe(21558)
    expect(r.misses).toBe(misses)
    expect(r.hits + r.misses).toBe(21558)
  })

  withTrace("reports the 37 gap cells and never counts them as accesses", () => {
    expect(trace!.tokens).toBe(338)
    expect(run("cache=lru", 64).unknown_token_layers).toBe(37)
  })
})
