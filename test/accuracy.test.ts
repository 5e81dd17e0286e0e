import { describe, expect, it } from "@jest/globals"
import { fitExponential, accuracyCurve } from "../workflows/accuracy.ts"
import { buildAccessStream } from "../traces/batching.ts"
import { generateZipfTrace } from "../traces/synthetic.ts"
import { crossFit } from "../policies/training.ts"

describe("accuracy against lookahead distance", () => {
  it("fits a·e^(−b·d) + c to an exact curve", () => {
    const xs = [1, 2, 3, 4, 5, 6, 8, 10]
    const f = fitExponential(
      xs,
      xs.map((d) => 0.5 * Math.exp(-0.3 * d) + 0.25)
    )!
    expect(f.a).toBeCloseTo(0.5, 2)
    expect(f.b).toBeCloseTo(0.3, 2)
    expect(f.c).toBeCloseTo(0.25, 2)
  })
  it("recovers the pre-gate accuracy a synthetic trace was generated with", () => {
    const trace = generateZipfTrace({
      model: { name: "m", layers: 16, experts: 64, topK: 4 },
      tokens: 400,
      requests: 4,
      skew: 0,
      seed: 9,
      lookahead: { depth: 8, a: 0.6, b: 0.35, c: 0.2 }
    })
    const stream = buildAccessStream(trace, 1)
    const curve = accuracyCurve("pregate", trace, "syn", stream, crossFit(stream, trace), 8)
    // With uniform popularity a wrong pick is almost never right by chance (4 of 64): recall ≈ the set accuracy.
    curve.distances.forEach((d, i) => {
      expect(curve.recall[i]!).toBeCloseTo(
        0.6 * Math.exp(-0.35 * d) + 0.2 + ((1 - (0.6 * Math.exp(-0.35 * d) + 0.2)) * 4) / 64,
        1
      )
    })
    expect(curve.fit!.c).toBeGreaterThan(0.15)
    expect(curve.recall[0]!).toBeGreaterThan(curve.recall[7]!)
  })
})
