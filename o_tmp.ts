import { readFileSync } from "node:fs"
import { loadGeneratorParams } from "./traces/generatorParams.ts"
import { generateTrace } from "./traces/generator.ts"
import { traceStats } from "./traces/stats.ts"
const summary = JSON.parse(readFileSync("../shared/traces/routing-aggregates/summary.json", "utf8"))
const base = loadGeneratorParams("olmoe-1b-7b")
let worst = 0
for (const [di, d] of ["arxiv", "book", "c4", "github", "wikipedia"].entries()) {
  const p = { ...base, domains: base.domains.map((x, i) => ({ ...x, weight: i === di ? 1 : 0 })) }
  const s = traceStats(generateTrace(p, { tokens: 4000, requests: 8, seed: 5 }))
  for (const l of [0, 7, 15]) {
    const want = summary.per_domain.olmoe[d].layers[String(l)].topk
    const got = s.per_layer[l]!
    const e1 = Math.abs(got.top10_share - want.top10pct_share) / want.top10pct_share, e2 = Math.abs(got.entropy - want.norm_entropy) / want.norm_entropy
    worst = Math.max(worst, e1, e2)
    console.log(d, l, "top10", got.top10_share, want.top10pct_share, "ent", got.entropy, want.norm_entropy, (e1 * 100).toFixed(1), (e2 * 100).toFixed(1))
  }
}
console.log("worst relative error", (worst * 100).toFixed(1), "%")
