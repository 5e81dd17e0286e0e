/**
 * `expertflow reproduce`: regenerate docs/reproduction.md — each headline claim of both ExpertFlow
 * papers, the setting, what this simulator gives on the real Mixtral trace and on synthetic traces
 * of the papers' models, and a verdict. Deterministic: twice → byte-identical.
 */
import { createHash } from "node:crypto"
import { readFileSync } from "node:fs"
import { accuracyCurve, type AccuracyCurve } from "../workflows/accuracy.ts"
import { loadHardware, loadModel, type ModelProfile } from "../base/profiles.ts"
import type { ResultRecord } from "../sim/result.ts"
import { simulate } from "../workflows/simulate.ts"
import { buildAccessStream } from "../traces/batching.ts"
import { loadTrace } from "../traces/load.ts"
import { generateTrace } from "../traces/generator.ts"
import { presetParams, withLookahead } from "../traces/generatorParams.ts"
import type { Trace } from "../traces/trace.ts"
import { crossFit } from "../policies/training.ts"
import { TOOL_VERSION } from "../base/version.ts"

/** The policy rows of the comparison table (label, spec). */
export const REPRO_POLICIES: Array<[string, string]> = [
  ["on-demand LRU", "cache=lru"],
  ["fixed S=1 (transition)", "cache=lru,prefetch=fixed:1,predictor=transition"],
  ["fixed S=2 (transition)", "cache=lru,prefetch=fixed:2,predictor=transition"],
  ["fixed S=3 (transition)", "cache=lru,prefetch=fixed:3,predictor=transition"],
  ["EF-A adaptive S", "cache=two-level-lru,prefetch=adaptive,predictor=transition"],
  [
    "EF-A adaptive S + hybrid + reordering",
    "cache=two-level-lru,prefetch=adaptive,predictor=hybrid,order=resident-first"
  ],
  ["EF-H full path + PLEC + TS", "cache=plec,prefetch=path,predictor=route-path,scheduler=ts"],
  ["Cache-MoE / mixtral-offloading", "cache=lru,layout=per-layer,prefetch=fixed:1,predictor=pregate"],
  ["Pre-gated MoE", "cache=lru,prefetch=fixed:1,predictor=pregate"],
  ["SE-MoE ring (next 2 layers)", "cache=ring,prefetch=window:2,predictor=all"],
  ["MoE-Infinity activation-aware", "cache=lru,prefetch=window:2,predictor=eam"],
  ["ProMoE-style stride", "cache=lru,prefetch=window:2,predictor=transition"],
  ["static popularity pinning", "cache=pin:0.5"],
  ["bound: oracle prefetch + Belady", "cache=belady,prefetch=window:3,predictor=oracle"]
]

const EFA = "cache=two-level-lru,prefetch=adaptive,predictor=hybrid,order=resident-first"
const EFH = "cache=plec,prefetch=path,predictor=route-path,scheduler=ts"

interface Workload {
  label: string
  trace: Trace
  name: string
  model: ModelProfile
  input: string
}

const pct = (x: number | null | undefined, digits = 2) =>
  x === null || x === undefined ? "n/a" : `${(x * 100).toFixed(digits)}%`

function synthetic(modelId: string, tokens: number, requests: number, seed: number): Workload {
  const model = loadModel(modelId)
  const params = withLookahead(presetParams(modelId), 8)
  const la = params.lookahead!
  return {
    label: `synthetic ${model.id}`,
    trace: generateTrace(params, { tokens, requests, seed }),
    name: `synthetic:${model.id}:seed${seed}`,
    model,
    input:
      `realistic generator (traces/generator.ts: popularity skew, previous-token reuse, cross-layer affinity) ` +
      `with parameters "${params.source}", ${tokens} tokens, ${requests} requests, seed ${seed}, pre-gate ` +
      `lookahead D=${la.depth} with accuracy ${la.a}·e^(−${la.b}·d)+${la.c} — **parameters not fitted to a trace ` +
      `of this model** (no such trace is available: the only fitted presets are Mixtral and OLMoE)`
  }
}

export function reproduce(realTracePath: string): string {
  const mixtral = loadModel("mixtral-8x7b")
  const realBytes = readFileSync(realTracePath)
  const real: Workload = {
    label: "real Mixtral-8x7B (vLLM, HumanEval)",
    trace: loadTrace(realTracePath, mixtral),
    name: "mixtral-8x7b-vllm/humaneval_2_routing.jsonl",
    model: mixtral,
    input:
      `\`${realTracePath}\` (sha256 ${createHash("sha256").update(realBytes).digest("hex").slice(0, 16)}…, ` +
      `${realBytes.length} bytes)`
  }
  const qwen = synthetic("qwen1.5-moe-a2.7b", 1600, 8, 101)
  const dsv2 = synthetic("deepseek-v2-lite", 1600, 8, 102)
  const run = (
    w: Workload,
    policy: string,
    hw: string,
    size: { slots: number } | { mem: number },
    batch: number
  ): ResultRecord | string => {
    try {
      return simulate({
        trace: w.trace,
        traceName: w.name,
        model: w.model,
        hardware: loadHardware(hw),
        policy,
        mode: "timed",
        ...("slots" in size ? { cacheSlots: size.slots } : { gpuMemBytes: size.mem }),
        batch,
        perLayer: false,
        seed: 0,
        timeline: false
      }).record
    } catch (e) {
      return (e as Error).message.includes("lookahead")
        ? "n/a: no pre-gate lookahead in this trace"
        : `n/a: ${(e as Error).message}`
    }
  }
  const out: string[] = []
  const w = (s = "") => out.push(s)
  w("# Reproducing the two ExpertFlow papers in simulation")
  w()
  w(
    `Generated by \`expertflow reproduce\` (ExpertFlow ${TOOL_VERSION}); do not edit by hand. Papers: EF-A = arXiv ` +
      `2510.26730 (adaptive prefetch step, hybrid predictor), EF-H = arXiv 2410.17954 (route-path prediction, ` +
      `token scheduling, PLEC). Claims and settings come from \`shared/research/papers.md\`.`
  )
  w()
  w("## Inputs")
  w()
  w(
    `- Real trace: ${real.input}; ${real.trace.tokens} decode tokens, 2 requests, 32 layers × 8 experts, top-2, no ` +
      `pre-gate lookahead, no token ids.`
  )
  for (const s of [qwen, dsv2]) w(`- ${s.label}: ${s.input}.`)
  w(
    "- Hardware profiles: h100-pcie, a6000, h20, a40 (datasheet presets in `base/profiles/hardware/`, with stated " +
      "efficiency assumptions; not calibrated on a GPU)."
  )
  w("- Model profiles: mixtral-8x7b, qwen1.5-moe-a2.7b, deepseek-v2-lite (bf16 sizes from the public configs).")
  w(
    "- Learned predictors train by 2-fold cross-fitting (each half of the steps is predicted by a model trained on " +
      "the other half)."
  )
  w()
  w("## Stall fraction by policy on the real Mixtral trace (batch 1)")
  w()
  const cols: Array<[string, number]> = [
    ["h100-pcie", 64],
    ["h100-pcie", 128],
    ["a6000", 64],
    ["a6000", 128]
  ]
  w(`| policy | spec | ${cols.map(([hw, s]) => `${hw}, ${s} slots`).join(" | ")} |`)
  w(`|---|---|${cols.map(() => "---:").join("|")}|`)
  const table = new Map<string, Array<ResultRecord | string>>()
  for (const [label, spec] of REPRO_POLICIES) {
    const rs = cols.map(([hw, s]) => run(real, spec, hw, { slots: s }, 1))
    table.set(spec, rs)
    w(
      `| ${label} | \`${spec}\` | ` +
        `${rs.map((r) => (typeof r === "string" ? "n/a¹" : pct(r.stall_fraction, 1))).join(" | ")} |`
    )
  }
  w()
  w(
    "¹ Needs the pre-gate signal (experts gate_{l+1} picks from layer l's hidden state), which this vLLM recording " +
      "does not contain."
  )
  w()
  const lru64 = table.get("cache=lru")![0] as ResultRecord
  const bound64 = table.get(REPRO_POLICIES.at(-1)![1])![0] as ResultRecord
  w(
    `What the table says: Mixtral-8x7B experts are 336 MiB; one H2D copy takes ` +
      `${(lru64.stall_ns / Math.max(1, lru64.transfers_h2d) / 1e6).toFixed(1)} ms of stall on average under ` +
      `on-demand LRU at 64 slots on the H100 PCIe profile, while a whole layer computes in well under a ` +
      `millisecond at batch 1. The link is busy ${pct(lru64.link_utilization, 0)} of the time with on-demand ` +
      `loading, so no prefetch horizon can hide the transfers: every policy stays link-bound, and even the ` +
      `oracle bound stalls ${pct(bound64.stall_fraction, 1)}. Policies separate by how many bytes they ` +
      `move (hit rate), not by when they move them.`
  )
  w()
  // EF-A
  w("## EF-A (arXiv 2510.26730)")
  w()
  w(
    "Setting in the paper: RTX A6000 and H20, GPU memory capped at 20 GB, DeepSeek-V2-Lite / Qwen1.5-MoE / Qwen2 " +
      "in 4-bit, ShareGPT requests, continuous batching; baseline = HF Transformers offloading (on-demand). Here: " +
      "bf16 expert sizes (4-bit is not modelled), `--gpu-mem 20GiB`, batch 4 for the synthetic traces; the real " +
      "Mixtral trace at 64 slots, batch 1. EF-A = `" +
      EFA +
      "`; baseline = `cache=lru` (on-demand)."
  )
  w()
  w("| workload | hardware | cache | baseline stall | EF-A stall | EF-A / baseline | waiting reduction |")
  w("|---|---|---|---:|---:|---:|---:|")
  const efaRows: Array<{ ratio: number }> = []
  const efaSettings: Array<[Workload, string, { slots: number } | { mem: number }, number, string]> = [
    [real, "h100-pcie", { slots: 64 }, 1, "64 slots"],
    [real, "a6000", { slots: 64 }, 1, "64 slots"],
    [qwen, "a6000", { mem: 20 * 2 ** 30 }, 4, "20 GiB"],
    [qwen, "h20", { mem: 20 * 2 ** 30 }, 4, "20 GiB"],
    [dsv2, "a6000", { mem: 20 * 2 ** 30 }, 4, "20 GiB"],
    [dsv2, "h20", { mem: 20 * 2 ** 30 }, 4, "20 GiB"]
  ]
  for (const [wl, hw, size, batch, sizeLabel] of efaSettings) {
    const b = run(wl, "cache=lru", hw, size, batch),
      e = run(wl, EFA, hw, size, batch)
    if (typeof b === "string" || typeof e === "string") {
      w(
        `| ${wl.label} | ${hw} | ${sizeLabel} | ${typeof b === "string" ? b : "—"} | ` +
          `${typeof e === "string" ? e : "—"} | | |`
      )
      continue
    }
    const ratio = b.stall_ns > 0 ? e.stall_ns / b.stall_ns : 0
    efaRows.push({ ratio })
    w(
      `| ${wl.label} | ${hw} | ${sizeLabel} (${e.cache_slots} slots) | ${(b.stall_ns / 1e6).toFixed(1)} ms ` +
        `(${pct(b.stall_fraction, 1)}) | ${(e.stall_ns / 1e6).toFixed(1)} ms (${pct(e.stall_fraction, 1)}) | ` +
        `${pct(ratio, 2)} | ${pct(1 - ratio, 1)} |`
    )
  }
  const best = Math.min(...efaRows.map((r) => r.ratio))
  const meanRed = efaRows.reduce((a, r) => a + (1 - r.ratio), 0) / Math.max(1, efaRows.length)
  w()
  w(
    `- **Claim: model stall time < 0.1% of the baseline.** Best ratio here: ${pct(best, 2)}. Verdict: ` +
      `**${best < 0.001 ? "reproduced" : "not reproduced"}**. ` +
      (best < 0.001
        ? ""
        : "Under bf16 expert sizes the transfers of every missed expert exceed the compute they could hide behind, " +
          "on every profile; the paper's 4-bit experts are ~4× smaller, and its 20 GB cap with 4-bit models keeps " +
          "most experts resident. The simulator cannot say whether EF-A's mechanisms would close that gap on the " +
          "paper's setting without 4-bit sizes and real ShareGPT traces.")
  )
  w(
    `- **Claim: −98.5% waiting + miss latency on average.** Mean reduction here: ${pct(meanRed, 1)}. Verdict: ` +
      `**${meanRed >= 0.985 ? "reproduced" : "not reproduced"}** (same reason).`
  )
  const curves: Array<[Workload, AccuracyCurve, AccuracyCurve | null]> = []
  for (const wl of [real, qwen, dsv2]) {
    const stream = buildAccessStream(wl.trace, 1)
    const tr = crossFit(stream, wl.trace)
    const hybrid = accuracyCurve("hybrid", wl.trace, wl.name, stream, tr, 8)
    const pregate = wl.trace.lookahead ? accuracyCurve("pregate", wl.trace, wl.name, stream, tr, 8) : null
    curves.push([wl, hybrid, pregate])
  }
  w(
    "- **Claim: hybrid predictor +21.79% accuracy over pre-gate on average (asymptote c: 63.44 vs 26.43 on " +
      "DeepSeek, 65.31 vs 33.29 on Qwen1.5).** " +
      "Recall per target layer (B_acc) against distance d, fit a·e^(−b·d)+c:"
  )
  w()
  w("| workload | predictor | d=1 | d=2 | d=4 | d=8 | fit a, b, c |")
  w("|---|---|---:|---:|---:|---:|---|")
  for (const [wl, hybrid, pregate] of curves) {
    for (const c of pregate ? [pregate, hybrid] : [hybrid]) {
      const at = (d: number) => pct(c.recall[d - 1], 1)
      w(
        `| ${wl.label} | ${c.predictor}${c.note && c.predictor === "hybrid" && !pregate ? " (history only)" : ""} ` +
          `| ${at(1)} | ${at(2)} | ${at(4)} | ${at(8)} | ${c.fit ? `${c.fit.a}, ${c.fit.b}, ${c.fit.c}` : "—"} |`
      )
    }
  }
  const gains = curves
    .filter(([, , p]) => p)
    .map(([, h, p]) => h.recall.reduce((a, r, i) => a + r - p!.recall[i]!, 0) / h.recall.length)
  w()
  w(
    `  Verdict: **not comparable**. The real trace has no pre-gate signal, so only the history half of the hybrid ` +
      `runs there; on the synthetic traces the pre-gate accuracy is generated by construction and their history ` +
      `structure is the generator's default, not learned from real routing (mean hybrid − pre-gate recall on ` +
      `them: ${gains.map((g) => `${(g * 100).toFixed(1)} points`).join(", ")}).`
  )
  w()
  // EF-H
  w("## EF-H (arXiv 2410.17954)")
  w()
  w(
    "Setting in the paper: one A40 (PCIe Gen4), cache size CS per layer, batch sizes 4–32, RPP a trained T5 (7.21 " +
      "MB) over token ids; baselines Cache-MoE (per-layer LRU; mixtral-offloading), SE-MoE, Pre-gated MoE. Here: " +
      "a40 profile, the real Mixtral trace at batch 1 (it has 2 requests, so batching cannot form larger units) " +
      "with CS = 4 per layer (128 slots), synthetic Qwen1.5-MoE at batch 8 with CS = 32 per layer (768 slots; " +
      "a batch of 8 needs up to 32 distinct experts per layer). EF-H = `" +
      EFH +
      "`; Cache-MoE = `cache=lru,layout=per-layer` plus pre-gate speculation where the trace has it."
  )
  w()
  w("| workload | policy | hit rate | late hits | stall | tokens/s | route B_acc |")
  w("|---|---|---:|---:|---:|---:|---:|")
  const efh: Array<{ hit: number; speedup: number; bacc: number | null }> = []
  for (const [wl, slots, batch] of [
    [real, 128, 1],
    [qwen, 768, 8]
  ] as Array<[Workload, number, number]>) {
    const cacheMoe = wl.trace.lookahead
      ? "cache=lru,layout=per-layer,prefetch=fixed:1,predictor=pregate"
      : "cache=lru,layout=per-layer"
    const b = run(wl, cacheMoe, "a40", { slots }, batch),
      e = run(wl, EFH, "a40", { slots }, batch)
    for (const [label, r] of [
      ["Cache-MoE", b],
      ["EF-H", e]
    ] as const) {
      if (typeof r === "string") {
        w(`| ${wl.label} | ${label} | ${r} | | | | |`)
        continue
      }
      w(
        `| ${wl.label} | ${label} \`${r.policy}\` | ${pct(r.hit_rate, 1)} | ${r.late_hits} | ` +
          `${pct(r.stall_fraction, 1)} | ${r.tokens_per_s.toFixed(2)} | ${pct(r.b_acc, 1)} |`
      )
    }
    if (typeof b !== "string" && typeof e !== "string")
      efh.push({ hit: e.hit_rate + e.late_hits / e.accesses, speedup: e.tokens_per_s / b.tokens_per_s, bacc: e.b_acc })
  }
  w()
  w(
    "(EF-H counts an expert already on the GPU when its layer runs as a hit; the hit rate column counts only " +
      "experts resident at the gate, late hits are prefetched ones still arriving.)"
  )
  w()
  const maxHit = Math.max(...efh.map((x) => x.hit)),
    maxSpeed = Math.max(...efh.map((x) => x.speedup))
  const maxAcc = Math.max(...efh.map((x) => x.bacc ?? 0))
  w(
    `- **Claim: cache hit rate 91.96%.** Best here (hits + late hits): ${pct(maxHit, 1)}. Verdict: ` +
      `**${maxHit >= 0.9196 ? "reproduced" : "not reproduced"}** — with route predictions from the previous ` +
      `token's path (no token ids, no trained T5), the prediction half of EF-H is far weaker than the paper's; ` +
      `the cache mechanics (PLEC allocation, slot reuse, correction) are tested on the paper's Fig. 5 example ` +
      `in \`test/policies.test.ts\`.`
  )
  w(
    `- **Claim: up to 10× throughput over offloading baselines.** Best EF-H / Cache-MoE here: ` +
      `${maxSpeed.toFixed(2)}×. Verdict: **${maxSpeed >= 10 ? "reproduced" : "not reproduced"}**; the paper's ` +
      `largest gains are on Switch-128 against SE-MoE, not simulated here.`
  )
  w(
    `- **Claim: route prediction accuracy > 90% (B_acc).** Best here: ${pct(maxAcc, 1)}. Verdict: **not ` +
      `comparable** — this needs token ids and a trained sequence model; neither trace carries token ids.`
  )
  w()
  w("## What would change the verdicts")
  w()
  w(
    "- Traces recorded with pre-gate lookahead and token ids (the PyTorch recorder of the trace-sources issue) for " +
      "the papers' models, and 4-bit expert sizes in the model profiles."
  )
  w(
    "- Hardware profiles calibrated on a GPU (`expertflow hw calibrate`) instead of datasheet rates with assumed " +
      "efficiencies."
  )
  w()
  return out.join("\n")
}
