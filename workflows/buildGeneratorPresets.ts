/**
 * Rebuild the fitted generator presets from the shared data (run: npm run presets). Only fitted
 * parameters and derived statistics are written here, never the data itself.
 *   mixtral-8x7b.json  `trace fit` on ../shared/traces/mixtral-8x7b-vllm (real decode trace)
 *   olmoe-1b-7b.json   per-domain popularity of layers 0, 7 and 15 from the OLMoE routing
 *                      aggregates (Apache-2.0, Muennighoff et al. 2024), as inclusion-corrected
 *                      sampling weights; the other layers take the nearest covered layer's
 *                      profile on a seeded expert permutation. The aggregates hold no per-token
 *                      order, so reuse and affinity are defaults, not fitted.
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { writeFileAtomic } from "../base/atomicWrite.mjs"
import { loadModel } from "../base/profiles.ts"
import { Rng } from "../base/rng.ts"
import { fitParams } from "./fit.ts"
import type { GeneratorParams } from "../traces/generatorParams.ts"
import { inclusionWeights } from "../traces/inclusion.ts"
import { loadTrace } from "../traces/load.ts"

const shared = join(import.meta.dirname, "..", "..", "shared", "traces")
const out = join(import.meta.dirname, "..", "traces", "generator-presets")

const mixtral = loadModel("mixtral-8x7b")
const real = loadTrace(join(shared, "mixtral-8x7b-vllm", "humaneval_2_routing.jsonl"), mixtral)
const fitted = fitParams(
  real,
  "fitted by `expertflow trace fit` to the real Mixtral-8x7B vLLM HumanEval trace (338 decode tokens)"
)
writeFileAtomic(join(out, "mixtral-8x7b.json"), `${JSON.stringify(fitted)}\n`)

export const OLMOE_DOMAINS = ["arxiv", "book", "c4", "github", "wikipedia"]
const olmoe = loadModel("olmoe-1b-7b")
const covered = [0, 7, 15]
const byDomain = OLMOE_DOMAINS.map(
  (d) =>
    JSON.parse(readFileSync(join(shared, "routing-aggregates", "olmoe", `${d}.json`), "utf8")) as {
      num_tokens: number
      expert_counts: Record<string, number[]>
    }
)
const coveredWeights = covered.map((l) =>
  byDomain.map((d, i) =>
    inclusionWeights(
      d.expert_counts[String(l)]!.map((c) => c / d.num_tokens),
      olmoe.topK,
      100 + l * 10 + i
    )
  )
)
const rng = new Rng(7)
const layers = Array.from({ length: olmoe.layers }, (_, l) => {
  const ci = covered.indexOf(l)
  const nearest =
    ci >= 0 ? ci : covered.reduce((best, c, i) => (Math.abs(c - l) < Math.abs(covered[best]! - l) ? i : best), 0)
  const perm = ci >= 0 ? null : rng.shuffle(Array.from({ length: olmoe.experts }, (_, e) => e))
  return {
    popularity: coveredWeights[nearest]!.map((w) => ({ weights: perm ? perm.map((p) => w[p]!) : w })),
    reuse: 0.3,
    affinity: 0.2
  }
})
const params: GeneratorParams = {
  model: { name: olmoe.id, layers: olmoe.layers, experts: olmoe.experts, topK: olmoe.topK },
  source:
    "OLMoE-1B-7B per-domain popularity of layers 0, 7, 15 from the OLMoE routing aggregates (inclusion-corrected); " +
    "reuse and affinity are defaults (the aggregates hold no token order)",
  layers,
  domains: OLMOE_DOMAINS.map((name) => ({ name, weight: 1 })),
  weightShape: 2,
  prefillFraction: 0,
  lookahead: { depth: 8, a: 0.5, b: 0.35, c: 0.3 }
}
writeFileAtomic(join(out, "olmoe-1b-7b.json"), `${JSON.stringify(params)}\n`)
console.log("wrote mixtral-8x7b.json and olmoe-1b-7b.json")
