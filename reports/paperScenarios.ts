/**
 * The two ExpertFlow papers' settings as named scenarios (`expertflow reproduce --scenario NAME`):
 * the models, formats, hardware, workloads, cache sizes and baselines each paper evaluates, with
 * every value the paper leaves open stated and, where it decides the outcome, run at both of its
 * plausible ends. Sources: shared/research/papers.md (the papers' digest).
 */
import { type HardwareProfile, loadHardware, loadModel, type ModelProfile } from "../base/profiles.ts"
import { generateTrace } from "../traces/generator.ts"
import { presetParams, withLookahead } from "../traces/generatorParams.ts"
import { drawRequestLengths, SHAREGPT } from "../traces/requestLengths.ts"
import type { Trace } from "../traces/trace.ts"

export interface Workload {
  readonly label: string
  readonly trace: Trace
  readonly traceName: string
  readonly model: ModelProfile
  /** How it was made, for the document's inputs list. */
  readonly input: string
}

/** A hardware profile with a stated link rate (the paper's listed figure beside the datasheet's). */
export interface LinkVariant {
  readonly label: string
  readonly hardware: HardwareProfile
}

export const EFA_POLICY = "cache=two-level-lru,prefetch=adaptive,predictor=hybrid,order=resident-first"
export const efaFixed = (s: number) => `cache=two-level-lru,prefetch=fixed:${s},predictor=hybrid,order=resident-first`
export const EFH_POLICY = "cache=plec,prefetch=path,predictor=route-path,scheduler=ts"
export const EFH_NO_TS = "cache=plec,prefetch=path,predictor=route-path"
export const CACHE_MOE = "cache=lru,layout=per-layer"
export const SE_MOE = "cache=ring,prefetch=window:2,predictor=all"
export const PREGATED_MOE = "cache=lru,layout=per-layer,prefetch=fixed:1,predictor=pregate"

/** Pre-gate lookahead recorded in the synthetic traces (d = 1..8, the generator's default accuracy curve). */
const LOOKAHEAD = 8

function synthetic(
  modelId: string,
  lengths: ReadonlyArray<{ prompt: number; output: number }>,
  seed: number,
  workload: string
): Workload {
  const model = loadModel(modelId)
  const base = modelId.split("@")[0]!
  const params = withLookahead(presetParams(base), LOOKAHEAD)
  const tokens = lengths.reduce((a, r) => a + r.prompt + r.output, 0)
  const la = params.lookahead!
  return {
    label: `${model.id}, ${workload}`,
    trace: generateTrace(params, { tokens, requests: lengths.length, seed, requestLengths: lengths }),
    traceName: `synthetic:${model.id}:${workload}:seed${seed}`,
    model,
    input:
      `${model.id}: ${lengths.length} requests (${tokens} tokens) of ${workload}, seed ${seed}; routing from the ` +
      `realistic generator with "${params.source}" (not fitted to a trace of this model: none is available); ` +
      `pre-gate lookahead d = 1..${la.depth} with accuracy ${la.a}·e^(−${la.b}·d)+${la.c}`
  }
}

/** ShareGPT-length requests (EF-A's workload), continuous batching. */
export function shareGptWorkload(modelId: string, requests: number, seed: number): Workload {
  return synthetic(modelId, drawRequestLengths(SHAREGPT, requests, seed), seed, `${SHAREGPT.name}-length requests`)
}

/** EF-H's benchmark shape: fixed prompts, 16 new tokens each (its code's max_new_tokens). */
export function fixedLengthWorkload(
  modelId: string,
  requests: number,
  prompt: number,
  seed: number,
  dataset: string
): Workload {
  return synthetic(
    modelId,
    Array.from({ length: requests }, () => ({ prompt, output: 16 })),
    seed,
    `${dataset}-shaped requests (prompt ${prompt}, 16 new tokens)`
  )
}

const withLink = (id: string, gbps: number, label: string): LinkVariant => {
  const hw = loadHardware(id)
  return gbps === hw.h2dBandwidthGBps
    ? { label: `${id} (${label})`, hardware: hw }
    : { label: `${id} (${label})`, hardware: { ...hw, id: `${id}@${gbps}GBps`, h2dBandwidthGBps: gbps } }
}

/**
 * EF-A lists the A6000 at 64 GB/s and the H20 at 128 GB/s: PCIe Gen4 / Gen5 x16 *bidirectional*
 * figures, read literally as a one-way rate they are the optimistic end; the datasheet presets
 * (one way, 85% of the link as cudaMemcpy reaches) are the other.
 */
export const EFA_HARDWARE: ReadonlyArray<LinkVariant> = [
  withLink("a6000", loadHardware("a6000").h2dBandwidthGBps, "datasheet, 26.8 GB/s"),
  withLink("a6000", 64, "paper-listed 64 GB/s"),
  withLink("h20", loadHardware("h20").h2dBandwidthGBps, "datasheet, 53.6 GB/s"),
  withLink("h20", 128, "paper-listed 128 GB/s")
]

export interface Scenario {
  readonly name: string
  readonly paper: "EF-A" | "EF-H"
  readonly summary: string
}

export const SCENARIOS: ReadonlyArray<Scenario> = [
  {
    name: "efa-4bit",
    paper: "EF-A",
    summary:
      "DeepSeek-V2-Lite and Qwen1.5-MoE at int4-g128, 20 GB GPU cap, A6000 and H20 (paper-listed and datasheet " +
      "links), ShareGPT-length requests, continuous batching of 8; baselines: on-demand loading, LRU"
  },
  {
    name: "efa-accuracy",
    paper: "EF-A",
    summary: "pre-gate against the RandomForest hybrid (and the fusion) at distances 1..8, the a·e^(−b·d)+c fit"
  },
  {
    name: "efh-switch",
    paper: "EF-H",
    summary:
      "Switch-128 on an A40, per-layer cache 2/4/8/16 of 128 (offload 126/124/120/112), batch 4–32; baselines " +
      "SE-MoE, Pre-gated MoE, Cache-MoE; EF-H with and without token scheduling"
  },
  {
    name: "efh-dense-experts",
    paper: "EF-H",
    summary: "Mixtral-8x7B and Qwen1.5-MoE on an A40 at batch 4/8/16, EF-H against Cache-MoE"
  },
  {
    name: "efh-memory",
    paper: "EF-H",
    summary: "peak GPU memory of all-in-GPU against EF-H's cache, from the model profiles"
  }
]
