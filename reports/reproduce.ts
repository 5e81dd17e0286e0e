/**
 * `expertflow reproduce`: regenerate docs/reproduction.md — every headline claim of both
 * ExpertFlow papers, tested in the paper's own setting (reports/paperScenarios.ts), with our figure
 * and one verdict: reproduced (within the stated tolerance), not reproduced (the measured gap and
 * the mechanism behind it), or not comparable (the missing input named). Deterministic: twice →
 * byte-identical.
 */
import { createHash } from "node:crypto"
import { readFileSync } from "node:fs"
import { expertBytes, loadHardware, loadModel, type ModelProfile, residentBytes } from "../base/profiles.ts"
import { TOOL_VERSION } from "../base/version.ts"
import { crossFit } from "../policies/training.ts"
import type { ResultRecord } from "../sim/result.ts"
import { buildAccessStream } from "../traces/batching.ts"
import { loadTrace } from "../traces/load.ts"
import { SHAREGPT } from "../traces/requestLengths.ts"
import { accuracyCurve, type AccuracyCurve } from "../workflows/accuracy.ts"
import { simulate } from "../workflows/simulate.ts"
import {
  CACHE_MOE,
  EFA_HARDWARE,
  EFA_POLICY,
  EFH_NO_TS,
  EFH_POLICY,
  efaFixed,
  fixedLengthWorkload,
  type LinkVariant,
  PREGATED_MOE,
  SCENARIOS,
  SE_MOE,
  shareGptWorkload,
  type Workload
} from "./paperScenarios.ts"

/** The policy rows of the real-trace table (label, spec). */
export const REPRO_POLICIES: Array<[string, string]> = [
  ["on-demand LRU", "cache=lru"],
  ["fixed S=2 (transition)", "cache=lru,prefetch=fixed:2,predictor=transition"],
  ["EF-A adaptive S + hybrid + reordering", EFA_POLICY],
  ["EF-H full path + PLEC + TS", EFH_POLICY],
  ["SE-MoE ring (next 2 layers)", SE_MOE],
  ["static popularity pinning", "cache=pin:0.5"],
  ["bound: oracle prefetch + Belady", "cache=belady,prefetch=window:3,predictor=oracle"]
]

type Verdict = "reproduced" | "not reproduced" | "not comparable"
interface Claim {
  id: string
  paper: "EF-A" | "EF-H"
  claim: string
  figure: string
  scenario: string
  ours: string
  verdict: Verdict
  why: string
}

const GiB = 2 ** 30
const pct = (x: number | null | undefined, digits = 1) =>
  x === null || x === undefined || !Number.isFinite(x) ? "n/a" : `${(x * 100).toFixed(digits)}%`
const ms = (ns: number) => `${(ns / 1e6).toFixed(1)} ms`
const gb = (bytes: number) => `${(bytes / 1e9).toFixed(2)} GB`
const times = (x: number) => `${x.toFixed(2)}×`

function run(
  w: Workload,
  policy: string,
  hardware: LinkVariant["hardware"],
  slots: number,
  batch: number,
  perLayer = false
): ResultRecord {
  return simulate({
    trace: w.trace,
    traceName: w.traceName,
    model: w.model,
    hardware,
    policy,
    mode: "timed",
    cacheSlots: slots,
    batch,
    perLayer,
    seed: 0,
    timeline: false
  }).record
}

/** Mean of EF-A's traced prefetch step S over the run (policy_detail.S), when traced. */
const meanS = (r: ResultRecord): number | null => {
  const s = r.policy_detail.S as { mean?: number } | undefined
  return s?.mean ?? null
}

export interface ReproduceOptions {
  /** The real Mixtral vLLM trace (../shared); its section is left out when null. */
  readonly realTrace: string | null
  /** Only this scenario's section (a quick look); the ledger needs every scenario. */
  readonly scenario?: string
}

export function reproduce(opts: ReproduceOptions): string {
  const out: string[] = []
  const w = (s = "") => out.push(s)
  const only = opts.scenario
  const want = (name: string) => only === undefined || only === name
  const claims: Claim[] = []
  const sections: string[][] = []
  const section = (): ((s?: string) => void) => {
    const lines: string[] = []
    sections.push(lines)
    return (s = "") => lines.push(s)
  }

  // ---------------------------------------------------------------- EF-A: 4-bit models, 20 GB cap
  const efaModels = ["qwen1.5-moe-a2.7b@int4-g128", "deepseek-v2-lite@int4-g128"]
  const REQUESTS = 16,
    BATCH = 8
  const efaWorkloads =
    want("efa-4bit") || want("efa-accuracy") ? efaModels.map((m, i) => shareGptWorkload(m, REQUESTS, 1 + i)) : []
  if (want("efa-4bit")) {
    const s = section()
    s("## Scenario `efa-4bit` — EF-A's setting")
    s()
    s(
      `Setting: ${summaryOf("efa-4bit")}. EF-A = \`${EFA_POLICY}\` (two-level LRU, adaptive step S, the ` +
        "RandomForest hybrid predictor, resident-first token order)."
    )
    s()
    s("Values the paper leaves open, and the two ends each is run at:")
    s(
      "- **How much of the 20 GB the experts get.** int4-g128 experts are small (table below), and with the " +
        "non-expert weights kept in bf16 every expert of both models fits under the cap (`cap` end). The paper " +
        "says its cap forces expert swapping, so the other end caches 25% of the experts (`swap` end; the value " +
        "is ours)."
    )
    s(
      "- **What the baseline keeps.** HF Transformers offloading moves weights in for each forward pass: " +
        `\`on-demand\` = \`cache=lru\` with one layer's ${"E"} slots (every use after the layer is a reload; a ` +
        "stronger baseline than moving whole layers). The other end is `cache=lru` with EF-A's own cache."
    )
    s(
      "- **Link rate.** The paper lists the A6000 at 64 GB/s and the H20 at 128 GB/s (PCIe Gen4 / Gen5 x16 " +
        "*bidirectional* figures); read as one-way rates they are the optimistic end, the datasheet presets " +
        "(one way, 85% of the link) the other."
    )
    s(
      `- **Workload.** ${REQUESTS} requests whose prompt and output lengths are drawn from ShareGPT's published ` +
        `means (${SHAREGPT.source}; log-normal, σ = ${SHAREGPT.sigma}, prompts clipped to ` +
        `${SHAREGPT.promptRange.join("–")} as in EF-A); continuous batching of ${BATCH} (the paper's batch size ` +
        "was not recovered)."
    )
    s()
    s("| model | expert bytes (int4-g128 / bf16) | all experts | non-expert (bf16) | cache at the cap |")
    s("|---|---:|---:|---:|---:|")
    for (const wl of efaWorkloads) {
      const m = wl.model,
        bf16 = loadModel(m.id.split("@")[0]!)
      const LE = m.layers * m.experts
      s(
        `| ${m.id} | ${expertBytes(m)} / ${expertBytes(bf16)} | ${gb(LE * expertBytes(m))} | ` +
          `${gb(residentBytes(m))} | ${capSlots(m)} of ${LE} slots |`
      )
    }
    s()
    s(
      "| model | hardware | cache | on-demand stall | LRU stall | EF-A stall | EF-A / on-demand | EF-A / LRU | " +
        "EF-A mean S |"
    )
    s("|---|---|---|---:|---:|---:|---:|---:|---:|")
    const cells: Array<{
      model: string
      hw: string
      end: "cap" | "swap"
      none: ResultRecord
      lru: ResultRecord
      efa: ResultRecord
      fixed: ResultRecord[]
    }> = []
    for (const wl of efaWorkloads) {
      const m = wl.model,
        E = m.experts
      for (const hw of EFA_HARDWARE) {
        const none = run(wl, "cache=lru", hw.hardware, E, BATCH)
        for (const end of ["cap", "swap"] as const) {
          const slots = end === "cap" ? capSlots(m) : Math.round(0.25 * m.layers * E)
          const lru = run(wl, "cache=lru", hw.hardware, slots, BATCH)
          const efa = run(wl, EFA_POLICY, hw.hardware, slots, BATCH)
          const fixed = [1, 2, 3, 4].map((S) => run(wl, efaFixed(S), hw.hardware, slots, BATCH))
          cells.push({ model: m.id, hw: hw.label, end, none, lru, efa, fixed })
          s(
            `| ${m.id} | ${hw.label} | ${end} (${slots} slots) | ${ms(none.stall_ns)} | ${ms(lru.stall_ns)} | ` +
              `${ms(efa.stall_ns)} | ${pct(efa.stall_ns / none.stall_ns, 3)} | ` +
              `${pct(efa.stall_ns / lru.stall_ns, 1)} | ` +
              `${meanS(efa)?.toFixed(2) ?? "n/a"} |`
          )
        }
      }
    }
    // A1, A2
    const capCells = cells.filter((c) => c.end === "cap"),
      swapCells = cells.filter((c) => c.end === "swap")
    const ratio = (c: (typeof cells)[0], base: "none" | "lru") => c.efa.stall_ns / c[base].stall_ns
    const best = [...cells].sort((x, y) => ratio(x, "none") - ratio(y, "none"))[0]!
    const capOk = capCells.filter((c) => ratio(c, "none") < 0.001)
    const bestSwap = Math.min(...swapCells.map((c) => ratio(c, "lru")))
    const coldShare = capCells.reduce((a, c) => a + c.efa.misses, 0) / capCells.reduce((a, c) => a + c.efa.accesses, 0)
    claims.push({
      id: "A1",
      paper: "EF-A",
      claim: "model stall time < 0.1% of the baseline",
      figure: "< 0.1%",
      scenario: "efa-4bit",
      ours:
        `${pct(ratio(best, "none"), 4)} (best: ${best.model}, ${best.hw}, ${best.end}); ` +
        `${capOk.length} of ${capCells.length} cap-end cells < 0.1%`,
      verdict: capOk.length > 0 ? "reproduced" : "not reproduced",
      why:
        `Only at the cap end against on-demand loading: there every int4 expert fits in the 20 GB, so after each ` +
        `expert's first load EF-A never waits (misses are ${pct(coldShare, 2)} of accesses, all cold starts, and ` +
        `the adaptive prefetch hides most of those), while the baseline reloads experts on every use. It holds ` +
        `where the link is fast enough to hide the cold loads ` +
        `(${capOk.map((c) => `${c.model} on ${c.hw}`).join("; ") || "none"}). ` +
        `When experts must be swapped (swap end) EF-A's stall is at best ${pct(bestSwap, 1)} of LRU's at the ` +
        `same cache: prediction cannot create capacity, and a prefill chunk of a ShareGPT prompt needs most of a ` +
        `layer's experts at once.`
    })
    const meanRed = (cs: typeof cells, base: "none" | "lru") =>
      cs.reduce((a, c) => a + 1 - ratio(c, base), 0) / Math.max(1, cs.length)
    const capRed = meanRed(capCells, "none"),
      swapRed = meanRed(swapCells, "lru")
    claims.push({
      id: "A2",
      paper: "EF-A",
      claim: "waiting + cache-miss latency −98.5% on average",
      figure: "−98.5%",
      scenario: "efa-4bit",
      ours: `−${pct(capRed, 2)} (cap end vs on-demand); −${pct(swapRed, 1)} (swap end vs LRU)`,
      verdict: capRed >= 0.985 ? "reproduced" : "not reproduced",
      why:
        "The average is the cap end's mechanism again: a cache that holds the whole int4 model against a baseline " +
        "that reloads. Against LRU at the same cache, the reduction is what prefetching adds to caching, " +
        `−${pct(swapRed, 1)} when swapping, because under ShareGPT prefill chunks the link, not the prediction ` +
        "horizon, limits every policy."
    })
    // A3: best fixed S on the A6000
    s()
    s("Fixed prefetch step S (stall), EF-A's two-level LRU and hybrid predictor:")
    s()
    s("| model | hardware | cache | S=1 | S=2 | S=3 | S=4 | best S (flat: within 0.5%) | S* = N_e·E_s/(C_s·T_l) |")
    s("|---|---|---|---:|---:|---:|---:|---:|---:|")
    const a6000 = cells.filter((c) => c.hw.startsWith("a6000"))
    let twoWins = 0,
      decided = 0
    const stars: number[] = []
    for (const c of cells) {
      const stalls = c.fixed.map((r) => r.stall_ns)
      const flat = Math.max(...stalls) - Math.min(...stalls) <= 0.005 * Math.max(...stalls)
      const bestS = flat ? "flat" : 1 + stalls.indexOf(Math.min(...stalls))
      if (c.hw.startsWith("a6000") && !flat) decided++
      if (c.hw.startsWith("a6000") && bestS === 2) twoWins++
      // The paper's initial step: the predicted experts' transfer time over one layer's compute time.
      const r = c.lru
      const L = r.per_layer_hit_rate.length
      const perLayerNe = r.accesses / (r.steps * L)
      const linkNs = ((perLayerNe * r.expert_bytes) / (hwOf(c.hw).h2dBandwidthGBps * 1e9)) * 1e9
      const layerNs = r.compute_ns / (r.steps * L)
      const star = linkNs / layerNs
      if (c.hw.startsWith("a6000")) stars.push(star)
      s(
        `| ${c.model} | ${c.hw} | ${c.end} | ${c.fixed.map((x) => ms(x.stall_ns)).join(" | ")} | ${bestS} | ` +
          `${star.toFixed(1)} |`
      )
    }
    const spread = Math.max(
      ...a6000.map((c) => {
        const st = c.fixed.map((r) => r.stall_ns)
        return (Math.max(...st) - Math.min(...st)) / Math.max(...st)
      })
    )
    claims.push({
      id: "A3",
      paper: "EF-A",
      claim: "the best fixed step on the A6000 is S = 2",
      figure: "S = 2",
      scenario: "efa-4bit",
      ours: `S = 2 best in ${twoWins} of ${a6000.length} A6000 cells (${a6000.length - decided} flat)`,
      verdict: decided > 0 && twoWins * 2 > decided ? "reproduced" : "not reproduced",
      why:
        `The paper's own estimate S* = N_e·E_s/(C_s·T_l) is ${Math.min(...stars).toFixed(1)}–` +
        `${Math.max(...stars).toFixed(1)} layers here: a batch of ${BATCH} ShareGPT requests needs many experts per ` +
        "layer while one layer computes in well under the time to move them, so no horizon of 1–4 layers hides " +
        `the transfers and the stall differs by at most ${pct(spread, 1)} between S values (at the cap end only ` +
        "the cold loads are left to hide, and every S hides them alike). A best step of 2 " +
        "needs a layer's compute to cover about half of its experts' transfers: smaller batches or faster links."
    })
    // A4: the H20 regression with a small S
    const h20Gen4: LinkVariant = {
      label: "h20 on the A6000's Gen4 link (26.8 GB/s)",
      hardware: { ...loadHardware("h20"), id: "h20@gen4", h2dBandwidthGBps: loadHardware("a6000").h2dBandwidthGBps }
    }
    s()
    s("Small step (S = 1) on the A6000 and the H20, swap end, datasheet links, plus the H20 on a Gen4 link:")
    s()
    s("| model | hardware | stall | total | stall share |")
    s("|---|---|---:|---:|---:|")
    const regress: Array<{ model: string; a: ResultRecord; h: ResultRecord; g: ResultRecord }> = []
    for (const wl of efaWorkloads) {
      const slots = Math.round(0.25 * wl.model.layers * wl.model.experts)
      const a = run(wl, efaFixed(1), EFA_HARDWARE[0]!.hardware, slots, BATCH)
      const h = run(wl, efaFixed(1), EFA_HARDWARE[2]!.hardware, slots, BATCH)
      const g = run(wl, efaFixed(1), h20Gen4.hardware, slots, BATCH)
      regress.push({ model: wl.model.id, a, h, g })
      for (const [label, r] of [
        [EFA_HARDWARE[0]!.label, a],
        [EFA_HARDWARE[2]!.label, h],
        [h20Gen4.label, g]
      ] as const)
        s(`| ${wl.model.id} | ${label} | ${ms(r.stall_ns)} | ${ms(r.total_ns)} | ${pct(r.stall_fraction)} |`)
    }
    const worse = regress.filter((x) => x.h.stall_ns > x.a.stall_ns)
    claims.push({
      id: "A4",
      paper: "EF-A",
      claim: "on the H20 a small S waits longer, and can take longer overall, than on the A6000",
      figure: "H20 waiting > A6000",
      scenario: "efa-4bit",
      ours: regress.map((x) => `${x.model}: H20 ${ms(x.h.stall_ns)} vs A6000 ${ms(x.a.stall_ns)}`).join("; "),
      verdict: worse.length > 0 ? "reproduced" : "not reproduced",
      why:
        "Waiting is set by bytes over the link: with the datasheet links the H20's PCIe Gen5 moves experts " +
        `${(EFA_HARDWARE[2]!.hardware.h2dBandwidthGBps / EFA_HARDWARE[0]!.hardware.h2dBandwidthGBps).toFixed(1)}× ` +
        "faster than the A6000's Gen4, so it waits less. Put the H20 on the A6000's Gen4 link and it waits " +
        regress.map((x) => `${ms(x.g.stall_ns)} against ${ms(x.a.stall_ns)} (${x.model})`).join(", ") +
        ": with the link no faster, its faster compute leaves the same transfers less to hide behind (stall " +
        "share " +
        regress.map((x) => `${pct(x.a.stall_fraction)} → ${pct(x.g.stall_fraction)}`).join(", ") +
        "). That is the paper's hypothesis, and it needs an H20 whose link is no faster than the A6000's; " +
        "the paper's own listed rates (128 against 64 GB/s) say it is twice as fast."
    })
  }

  // ---------------------------------------------------------------- EF-A: predictor accuracy
  if (want("efa-accuracy")) {
    const s = section()
    s("## Scenario `efa-accuracy` — the hybrid predictor against the pre-gate")
    s()
    s(
      `Recall per target layer (B_acc) at distance d, batch ${BATCH} as in \`efa-4bit\`, ` +
        "learned predictors cross-fitted (each half of the " +
        "steps predicted by a model trained on the other half), fit a·e^(−b·d)+c:"
    )
    s()
    s("| workload | predictor | d=1 | d=2 | d=4 | d=8 | fit a, b, c |")
    s("|---|---|---:|---:|---:|---:|---|")
    const gains: Array<{ model: string; pg: AccuracyCurve; rf: AccuracyCurve }> = []
    for (const wl of efaWorkloads) {
      const stream = buildAccessStream(wl.trace, BATCH)
      const tr = crossFit(stream, wl.trace)
      const curves = ["pregate", "hybrid", "hybrid-fusion"].map((p) =>
        accuracyCurve(p, wl.trace, wl.traceName, stream, tr, 8)
      )
      gains.push({ model: wl.model.id, pg: curves[0]!, rf: curves[1]! })
      for (const c of curves) {
        const at = (d: number) => pct(c.recall[d - 1], 1)
        s(
          `| ${wl.model.id} | ${c.predictor} | ${at(1)} | ${at(2)} | ${at(4)} | ${at(8)} | ` +
            `${c.fit ? `${c.fit.a}, ${c.fit.b}, ${c.fit.c}` : "—"} |`
        )
      }
    }
    const meanGain = (g: (typeof gains)[0]) =>
      g.rf.recall.reduce((a, r, i) => a + r - g.pg.recall[i]!, 0) / g.rf.recall.length
    claims.push({
      id: "A5",
      paper: "EF-A",
      claim:
        "hybrid predictor +21.79% accuracy over the pre-gate on average; asymptote c 63.44 vs 26.43 " +
        "(DeepSeek), 65.31 vs 33.29 (Qwen1.5)",
      figure: "+21.79 points; c ≈ 2× pre-gate",
      scenario: "efa-accuracy",
      ours: gains
        .map(
          (g) => `${g.model}: +${(meanGain(g) * 100).toFixed(1)} points, c ${pct(g.rf.fit?.c)} vs ${pct(g.pg.fit?.c)}`
        )
        .join("; "),
      verdict: "not comparable",
      why:
        "Missing input: real pre-gate signals. The synthetic traces' pre-gate is generated correct with " +
        "probability 0.5·e^(−0.35·d)+0.3, and their only history structure is the generator's previous-token " +
        "reuse and cross-layer affinity, so the forest can only learn what the generator put there. The paper's " +
        "asymptote gap is a property of real routing (how much token ids and earlier layers say about layer l+d " +
        "beyond the pre-gate). Record the models with `record.py --lookahead D` and run `expertflow accuracy " +
        "--predictors pregate,hybrid` to measure it."
    })
  }

  // ---------------------------------------------------------------- EF-H: Switch-128 on an A40
  const a40 = loadHardware("a40")
  if (want("efh-switch")) {
    const s = section()
    s("## Scenario `efh-switch` — EF-H's largest gains: Switch-128 on an A40")
    s()
    s(
      `Setting: ${summaryOf("efh-switch")}. Workload: WMT16-shaped requests (24-token prompts, an assumption; 16 new ` +
        "tokens, the code's max_new_tokens), 4 × batch requests, continuous batching. Whether CS is per layer " +
        "or a total is open (the paper's PLEC shares slots across layers, its released code keeps them per " +
        "layer): EF-H runs at both ends, CS · L slots shared (PLEC) and CS per layer; the baselines get CS " +
        "slots per layer. A batch needing more of a " +
        "layer's experts than the cache holds streams them through it as they finish (EF-H's pipelined miss " +
        `window). EF-H = \`${EFH_POLICY}\`; SE-MoE = \`${SE_MOE}\`; Pre-gated MoE = \`${PREGATED_MOE}\`; ` +
        `Cache-MoE = \`${CACHE_MOE}\`. Link: the A40 datasheet preset (${a40.h2dBandwidthGBps} GB/s one way; the ` +
        "paper does not state it)."
    )
    s()
    s(
      "| CS / layer | batch | SE-MoE | Pre-gated | Cache-MoE | EF-H no TS | EF-H | EF-H per layer | " +
        "best EF-H / SE-MoE | best EF-H / Cache-MoE | hit EF-H | hit Cache-MoE | B_acc |"
    )
    s("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    const rows: Array<{
      cs: number
      b: number
      se: ResultRecord
      cm: ResultRecord
      nots: ResultRecord
      /** EF-H with CS · L shared slots (the layout its no-TS run has: the token scheduler's ablation). */
      shared: ResultRecord
      efh: ResultRecord
    }> = []
    for (const B of [4, 8, 16, 32]) {
      const wl = fixedLengthWorkload("switch-base-128", 4 * B, 24, 3, "WMT16")
      for (const cs of [2, 4, 8, 16]) {
        const slots = cs * wl.model.layers
        const se = run(wl, SE_MOE, a40, slots, B)
        const pg = run(wl, PREGATED_MOE, a40, slots, B)
        const cm = run(wl, CACHE_MOE, a40, slots, B)
        const nots = run(wl, EFH_NO_TS, a40, slots, B)
        const shared = run(wl, EFH_POLICY, a40, slots, B)
        const perLayer = run(wl, `${EFH_POLICY},layout=per-layer`, a40, slots, B)
        const efh = perLayer.tokens_per_s > shared.tokens_per_s ? perLayer : shared
        rows.push({ cs, b: B, se, cm, nots, shared, efh })
        const tps = (r: ResultRecord) => r.tokens_per_s.toFixed(1)
        s(
          `| ${cs} | ${B} | ${tps(se)} | ${tps(pg)} | ${tps(cm)} | ${tps(nots)} | ${tps(shared)} | ` +
            `${tps(perLayer)} | ` +
            `${times(efh.tokens_per_s / se.tokens_per_s)} | ${times(efh.tokens_per_s / cm.tokens_per_s)} | ` +
            `${pct(servedHit(efh))} | ${pct(servedHit(cm))} | ${pct(efh.b_acc)} |`
        )
      }
    }
    s()
    s("Throughput in tokens/s; hit = experts on the GPU when their layer runs (hits + late hits), EF-H's counting.")
    const bestSe = [...rows].sort(
      (x, y) => y.efh.tokens_per_s / y.se.tokens_per_s - x.efh.tokens_per_s / x.se.tokens_per_s
    )[0]!
    const maxSe = bestSe.efh.tokens_per_s / bestSe.se.tokens_per_s
    const linkBusy = Math.min(...rows.map((r) => r.se.link_utilization))
    claims.push({
      id: "H2",
      paper: "EF-H",
      claim:
        "up to 10× throughput over offloading baselines (Switch-128 vs SE-MoE: 5.86× at CS 16, " +
        "9.99× at CS 4, batch 32)",
      figure: "up to 10×",
      scenario: "efh-switch",
      ours: `${times(maxSe)} (CS ${bestSe.cs}, batch ${bestSe.b})`,
      verdict: maxSe >= 9 ? "reproduced" : "not reproduced",
      why:
        `Every policy is link-bound here (SE-MoE keeps the link ≥ ${pct(linkBusy, 0)} busy): a Switch-128 ` +
        `expert is ${(expertBytes(loadModel("switch-base-128")) / 1e6).toFixed(2)} MB and a batch of B top-1 ` +
        "tokens touches up to " +
        "B experts per layer, so throughput follows bytes moved. EF-H's advantage comes from moving only the " +
        "experts it predicts, and its route predictor here is the stand-in (the previous token's path, B_acc " +
        `${pct(Math.min(...rows.map((r) => r.efh.b_acc ?? 0)), 0)}–` +
        `${pct(Math.max(...rows.map((r) => r.efh.b_acc ?? 0)), 0)}` +
        " against the paper's > 90% from a T5 over token ids); with that accuracy its prefetches are mostly " +
        "wrong, so it moves as many bytes as SE-MoE's ring. The 10× needs the trained RPP (see H4)."
    })
    const ts = Math.max(...rows.filter((r) => r.b >= 16).map((r) => r.shared.tokens_per_s / r.nots.tokens_per_s))
    claims.push({
      id: "H6",
      paper: "EF-H",
      claim: "token scheduling: 1.17× on Switch-128 (Table 2), up to +16.19%",
      figure: "1.17×",
      scenario: "efh-switch",
      ours: `${times(ts)} best at batch ≥ 16`,
      verdict: Math.abs(ts - 1.17) <= 0.1 * 1.17 ? "reproduced" : "not reproduced",
      why:
        "Regrouping two batches so each shares experts only pays when tokens' paths cluster. The synthetic " +
        "routing draws each token's expert from the layer's popularity, its previous token and the previous " +
        "layer — no per-token-id structure for the Hamming k-means to find — so the regrouped batches activate " +
        "almost as many (layer, expert) pairs as the original ones (the scheduler's counts are in each run's " +
        "policy_detail.scheduler)."
    })
    const plec = rows.map((r) => servedHit(r.nots) - servedHit(r.cm))
    claims.push({
      id: "H7",
      paper: "EF-H",
      claim: "PLEC's hit rate 15–36% above LRU's (Switch-32, Fig. 10)",
      figure: "+15 to +36 points",
      scenario: "efh-switch",
      ours: `${(Math.min(...plec) * 100).toFixed(1)} to ${(Math.max(...plec) * 100).toFixed(1)} points (Switch-128)`,
      verdict: Math.min(...plec) >= 0.15 ? "reproduced" : "not reproduced",
      why:
        "PLEC's margin is positive where a per-layer LRU of CS slots keeps almost nothing between steps (small " +
        "CS, large batch) and negative where LRU's recency holds a layer's popular experts (CS 8–16, small " +
        "batch): allocating by predicted demand beats recency only as far as the prediction is right, and the " +
        "stand-in route predictor is right for a third of a batch's experts. (The paper's figure " +
        "is Switch-32, which has no preset here; Switch-128 has 4× the experts per layer.)"
    })
  }

  // ---------------------------------------------------------------- EF-H: Mixtral and Qwen1.5
  if (want("efh-dense-experts")) {
    const s = section()
    s("## Scenario `efh-dense-experts` — Mixtral-8x7B and Qwen1.5-MoE against Cache-MoE")
    s()
    s(
      "Mixtral on XSUM-shaped requests (256-token prompts: an assumption, the paper gives no lengths) and " +
        "Qwen1.5-MoE on Alpaca-shaped ones (19-token prompts, Alpaca's mean input per the vLLM paper), 16 new " +
        "tokens each, bf16 experts, A40. CS per layer is open: Mixtral at 2 and 4 of 8, Qwen1.5 at 4 and 8 of 60 " +
        "(the paper's cross-domain runs use CS = 4)."
    )
    s()
    s("| model | CS / layer | batch | Cache-MoE tokens/s | EF-H tokens/s | EF-H / Cache-MoE | hit EF-H | B_acc |")
    s("|---|---:|---:|---:|---:|---:|---:|---:|")
    const best = new Map<string, number>()
    let maxHit = 0
    const bacc: Array<{ model: string; b: number; acc: number }> = []
    for (const [m, css, prompt, ds] of [
      ["mixtral-8x7b", [2, 4], 256, "XSUM"],
      ["qwen1.5-moe-a2.7b", [4, 8], 19, "Alpaca"]
    ] as const) {
      for (const B of [4, 8, 16]) {
        const wl = fixedLengthWorkload(m, 4 * B, prompt, 3, ds)
        for (const cs of css) {
          const cm = run(wl, CACHE_MOE, a40, cs * wl.model.layers, B)
          const efh = run(wl, EFH_POLICY, a40, cs * wl.model.layers, B)
          const r = efh.tokens_per_s / cm.tokens_per_s
          best.set(m, Math.max(best.get(m) ?? 0, r))
          maxHit = Math.max(maxHit, servedHit(efh))
          bacc.push({ model: m, b: B, acc: efh.b_acc ?? 0 })
          s(
            `| ${m} | ${cs} | ${B} | ${cm.tokens_per_s.toFixed(2)} | ${efh.tokens_per_s.toFixed(2)} | ${times(r)} | ` +
              `${pct(servedHit(efh))} | ${pct(efh.b_acc)} |`
          )
        }
      }
    }
    claims.push({
      id: "H5",
      paper: "EF-H",
      claim: "up to 1.99× (Mixtral) and 2.12× (Qwen1.5) over Cache-MoE, growing with batch size",
      figure: "1.99× / 2.12×",
      scenario: "efh-dense-experts",
      ours: `${times(best.get("mixtral-8x7b")!)} / ${times(best.get("qwen1.5-moe-a2.7b")!)}`,
      verdict:
        best.get("mixtral-8x7b")! >= 0.9 * 1.99 && best.get("qwen1.5-moe-a2.7b")! >= 0.9 * 2.12
          ? "reproduced"
          : "not reproduced",
      why:
        "Both models' experts are large against the A40's link (Mixtral 336 MiB each), so throughput is bytes " +
        "moved; EF-H moves fewer bytes than per-layer LRU only where its route prediction beats LRU's recency, " +
        "and the stand-in predictor does not on these traces."
    })
    const switchAndDense = maxHit
    claims.push({
      id: "H3",
      paper: "EF-H",
      claim: "cache hit rate 91.96%",
      figure: "91.96%",
      scenario: "efh-dense-experts, efh-switch",
      ours: `${pct(switchAndDense)} best (Mixtral / Qwen1.5 cells; Switch-128 in its table)`,
      verdict: Math.abs(switchAndDense - 0.9196) <= 0.03 ? "reproduced" : "not reproduced",
      why:
        "EF-H's hit counts an expert on the GPU when its layer runs, prefetched ones included; the rate is " +
        "highest where a batch needs most of a layer's experts anyway (Mixtral's 8 at batch 16), where " +
        "prefetching whole layers is nearly always right, and low where prediction must pick few of many " +
        "(Switch-128, Qwen1.5's 60) — the RPP's accuracy again."
    })
    const mix = bacc.filter((x) => x.model === "mixtral-8x7b" && x.b >= 16)
    const others = bacc.filter((x) => !(x.model === "mixtral-8x7b" && x.b >= 16))
    claims.push({
      id: "H4",
      paper: "EF-H",
      claim: "route prediction accuracy > 90% (B_acc)",
      figure: "> 90%",
      scenario: "efh-dense-experts, efh-switch",
      ours:
        `${pct(Math.max(...mix.map((x) => x.acc)))} Mixtral at batch 16; ` +
        `${pct(Math.min(...others.map((x) => x.acc)))}–${pct(Math.max(...others.map((x) => x.acc)))} elsewhere`,
      verdict: "not comparable",
      why:
        "Missing inputs: token ids in the trace and a trained route-path predictor (the paper's T5 over token " +
        "ids). B_acc is the recall of the batch's union of experts, so it saturates where a batch needs nearly " +
        "every expert (Mixtral, 8 experts, batch 16): even the previous token's path scores > 90% there, which " +
        "says nothing about prediction. A model trained on recorded routes plugs in as `predictor=onnx:FILE` " +
        "(docs/onnx-predictor.md)."
    })
  }

  // ---------------------------------------------------------------- EF-H: memory
  if (want("efh-memory")) {
    const s = section()
    s("## Scenario `efh-memory` — GPU memory against all-in-GPU")
    s()
    s(
      "Peak memory from the profiles: all-in-GPU (AIG) holds the non-expert weights and every expert; EF-H holds " +
        "the non-expert weights and CS experts per layer. Activations, KV cache and the CUDA context are not " +
        "counted (the paper's `max_memory_reserved` counts them, which is why its AIG figures are higher)."
    )
    s()
    s(
      "| model | AIG (ours) | AIG (paper) | CS / layer | EF-H (ours) | EF-H (paper) | reduction (ours) | " +
        "reduction (paper) |"
    )
    s("|---|---:|---:|---:|---:|---:|---:|---:|")
    const paper: Record<string, [number, number]> = {
      "switch-base-128": [15.26, 1.03],
      "qwen1.5-moe-a2.7b": [35.21, 6.52],
      "mixtral-8x7b": [Number.NaN, 15.99]
    }
    let switchAt4 = 0
    for (const [m, css] of [
      ["switch-base-128", [2, 4, 8, 16]],
      ["qwen1.5-moe-a2.7b", [4, 8]],
      ["mixtral-8x7b", [1, 2]]
    ] as const) {
      const model = loadModel(m)
      const aig = residentBytes(model) + model.layers * model.experts * expertBytes(model)
      const [pa, pe] = paper[m]!
      for (const cs of css) {
        const efh = residentBytes(model) + cs * model.layers * expertBytes(model)
        if (m === "switch-base-128" && cs === 4) switchAt4 = 1 - efh / aig
        s(
          `| ${m} | ${gb(aig)} | ${Number.isNaN(pa) ? "OOM (48 GB)" : `${pa} GB`} | ${cs} | ${gb(efh)} | ${pe} GB | ` +
            `${pct(1 - efh / aig)} | ${Number.isNaN(pa) ? "—" : pct(1 - pe / pa)} |`
        )
      }
    }
    claims.push({
      id: "H1",
      paper: "EF-H",
      claim: "GPU memory −93.72% against all-in-GPU (Switch-128: 15.26 → 1.03 GB)",
      figure: "−93.72%",
      scenario: "efh-memory",
      ours: `−${pct(switchAt4, 2)} (Switch-128, CS 4 per layer = offload 124)`,
      verdict: Math.abs(switchAt4 - 0.9372) <= 0.03 ? "reproduced" : "not reproduced",
      why:
        "Arithmetic of the setting: Switch-128's experts are 97.75% of its parameters, so keeping 4 of 128 per " +
        "layer removes almost all of them; the figure follows from the cache size, not from EF-H's mechanisms " +
        "(any offloading baseline with the same cache saves the same)."
    })
  }

  // ---------------------------------------------------------------- the real trace
  if (opts.realTrace !== null && want("real-mixtral")) {
    const s = section()
    const mixtral = loadModel("mixtral-8x7b")
    const bytes = readFileSync(opts.realTrace)
    const real: Workload = {
      label: "real Mixtral-8x7B (vLLM, HumanEval)",
      trace: loadTrace(opts.realTrace, mixtral),
      traceName: "mixtral-8x7b-vllm/humaneval_2_routing.jsonl",
      model: mixtral,
      input: ""
    }
    s("## The real Mixtral trace (batch 1), for scale")
    s()
    s(
      `\`${opts.realTrace}\` (sha256 ${createHash("sha256").update(bytes).digest("hex").slice(0, 16)}…, ` +
        `${bytes.length} bytes): ${real.trace.tokens} tokens, 2 requests, no pre-gate lookahead, no token ids. ` +
        "Stall fraction by policy:"
    )
    s()
    const cols: Array<[string, number]> = [
      ["h100-pcie", 64],
      ["h100-pcie", 128],
      ["a6000", 64],
      ["a6000", 128]
    ]
    s(`| policy | spec | ${cols.map(([hw, n]) => `${hw}, ${n} slots`).join(" | ")} |`)
    s(`|---|---|${cols.map(() => "---:").join("|")}|`)
    for (const [label, spec] of REPRO_POLICIES)
      s(
        `| ${label} | \`${spec}\` | ` +
          `${cols.map(([hw, n]) => pct(run(real, spec, loadHardware(hw), n, 1).stall_fraction)).join(" | ")} |`
      )
    s()
    s(
      "Mixtral's 336 MiB experts keep every policy link-bound at batch 1: policies separate by how many bytes " +
        "they move, not by when they move them."
    )
  }

  // ---------------------------------------------------------------- the document
  w("# Reproducing the two ExpertFlow papers in their own settings")
  w()
  w(
    `Generated by \`expertflow reproduce\` (ExpertFlow ${TOOL_VERSION}); do not edit by hand. EF-A = arXiv ` +
      "2510.26730 (adaptive prefetch step, hybrid predictor); EF-H = arXiv 2410.17954 (route-path prediction, " +
      "token scheduling, PLEC). Claims and settings come from `shared/research/papers.md`."
  )
  w()
  w(
    'Verdicts: **reproduced** when our figure meets a bound claim ("< 0.1%", "up to 10×", within 10%) in the ' +
      "paper's setting, or a point figure within ±3 points (rates) or ±10% (ratios); **not reproduced** with the " +
      "measured gap and the mechanism behind it; **not comparable** naming the input that is missing. Every run " +
      "is a timed replay on datasheet hardware profiles (not calibrated on these GPUs) of synthetic routing " +
      "(no recorded trace of these models exists here), so a verdict speaks about the mechanism in the setting, " +
      "not about the papers' testbeds."
  )
  w()
  if (only === undefined) {
    w("## Claims ledger")
    w()
    w("| # | paper | claim | paper's figure | scenario | ours | verdict |")
    w("|---|---|---|---|---|---|---|")
    const order = ["A1", "A2", "A3", "A4", "A5", "H1", "H2", "H3", "H4", "H5", "H6", "H7"]
    const sorted = [...claims].sort((a, b) => order.indexOf(a.id) - order.indexOf(b.id))
    for (const c of sorted)
      w(`| ${c.id} | ${c.paper} | ${c.claim} | ${c.figure} | \`${c.scenario}\` | ${c.ours} | **${c.verdict}** |`)
    w()
    for (const c of sorted) w(`- **${c.id}** (${c.verdict}). ${c.why}`)
    w()
    w("## Scenarios")
    w()
    for (const sc of SCENARIOS) w(`- \`${sc.name}\` (${sc.paper}): ${sc.summary}.`)
    w("- `real-mixtral`: the real Mixtral vLLM trace from `../shared` at batch 1 (left out when the file is absent).")
    w()
    w("Workloads:")
    w()
    for (const wl of efaWorkloads) w(`- ${wl.input}.`)
    w(
      "- EF-H: the same generator for switch-base-128, mixtral-8x7b and qwen1.5-moe-a2.7b (bf16), seed 3, " +
        "fixed-length requests as each scenario states."
    )
    w()
  }
  for (const lines of sections) {
    for (const l of lines) w(l)
    w()
  }
  if (only === undefined) {
    w("## What would change the verdicts")
    w()
    w(
      "- Routing traces of the papers' models with pre-gate lookahead and token ids (`traces/recorder`, " +
        "`record.py --lookahead D`), replacing the synthetic routing: A5, H4 and every figure that depends on " +
        "prediction accuracy (A3, H2, H3, H5, H6, H7)."
    )
    w(
      "- A route-path predictor trained on such traces, run as `predictor=onnx:FILE` (docs/onnx-predictor.md), " +
        "in place of the previous-token stand-in."
    )
    w("- Hardware profiles calibrated on an A6000, H20 and A40 (`expertflow hw calibrate`).")
    w()
  }
  return out.join("\n")
}

const summaryOf = (name: string) => SCENARIOS.find((x) => x.name === name)!.summary

/** Experts on the GPU when their layer runs (EF-H's hit: resident at the gate or arriving prefetches). */
const servedHit = (r: ResultRecord) => r.hit_rate + r.late_hits / Math.max(1, r.accesses)

/** Slots the 20 GiB cap leaves for experts after the bf16 non-expert weights (at most every expert). */
function capSlots(m: ModelProfile): number {
  return Math.min(m.layers * m.experts, Math.floor((20 * GiB - residentBytes(m)) / expertBytes(m)))
}

const hwOf = (label: string) => EFA_HARDWARE.find((h) => h.label === label)!.hardware
