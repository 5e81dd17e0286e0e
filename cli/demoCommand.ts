import { existsSync } from "node:fs"
import { Command, Flag } from "effect/cli"
import { loadHardware, loadModel } from "../sim/profiles.ts"
import { simulate } from "../sim/simulate.ts"
import { generateZipfTrace } from "../traces/synthetic.ts"
import { loadTrace } from "../traces/load.ts"
import { action } from "./action.ts"

const REAL = "../shared/traces/mixtral-8x7b-vllm/humaneval_2_routing.jsonl"
const POLICIES = ["cache=lru", "cache=lru,prefetch=fixed:1,predictor=prev-token", "cache=lru,prefetch=fixed:1,predictor=transition", "cache=lru,prefetch=fixed:2,predictor=oracle", "cache=belady,prefetch=fixed:1,predictor=oracle"]

/** A small comparison on bundled defaults: the real Mixtral trace when present, else a seeded synthetic one. */
export const demoCommand = Command.make("demo", {
  slots: Flag.Int("cache-slots").pipe(Flag.withDefault(128))
}, (f) => action(() => {
  const model = loadModel("mixtral-8x7b")
  const hardware = loadHardware("h100-pcie")
  const real = existsSync(REAL)
  const trace = real ? loadTrace(REAL, model) : generateZipfTrace({ model: { name: model.id, layers: 32, experts: 8, topK: 2 }, tokens: 400, requests: 2, skew: 0.5, seed: 1 })
  process.stdout.write(`${real ? REAL : "synthetic Zipf trace (seed 1)"} · ${model.id} on ${hardware.id} · ${f.slots} slots\n\n`)
  process.stdout.write(`${"policy".padEnd(52)} ${"hit rate".padStart(9)} ${"stall %".padStart(8)} ${"tokens/s".padStart(9)}\n`)
  for (const policy of POLICIES) {
    const { record: r } = simulate({ trace, traceName: real ? REAL : "synthetic", model, hardware, policy, mode: "timed", cacheSlots: f.slots, batch: 1, perLayer: false, seed: 0, timeline: false })
    process.stdout.write(`${policy.padEnd(52)} ${(r.hit_rate * 100).toFixed(1).padStart(8)}% ${(r.stall_fraction * 100).toFixed(1).padStart(7)}% ${r.tokens_per_s.toFixed(2).padStart(9)}\n`)
  }
})).pipe(Command.withDescription("compare a few policies on bundled defaults"))
