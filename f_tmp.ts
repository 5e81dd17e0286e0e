import { loadTrace } from "./traces/load.ts"
import { loadModel } from "./sim/profiles.ts"
import { fitParams } from "./traces/fit.ts"
import { generateTrace } from "./traces/generator.ts"
import { compareTraces } from "./traces/compare.ts"
const m = loadModel("mixtral-8x7b")
const real = loadTrace("../shared/traces/mixtral-8x7b-vllm/humaneval_2_routing.jsonl", m)
const t0 = performance.now()
const p = fitParams(real, "fit")
console.log("fit s", ((performance.now() - t0) / 1000).toFixed(1), "shape", p.weightShape, "affinity", p.layers[1]!.affinity, "reuse", p.layers.slice(0, 6).map((l) => l.reuse))
for (const seed of [1, 2, 3]) {
  const syn = generateTrace(p, { tokens: 338, requests: 2, seed })
  const c = compareTraces(real, syn)
  const gaps = c.a.mrc.map((x, i) => ((c.b.mrc[i]! - x) * 100).toFixed(1))
  console.log("seed", seed, "reuse", (c.a.mean_reuse! * 100).toFixed(1), (c.b.mean_reuse! * 100).toFixed(1), "MRC gaps pp:", gaps.join(" "))
}
