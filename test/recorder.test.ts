import { describe, expect, it } from "@jest/globals"
import { spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { readTrace } from "../traces/canonical.ts"
import { importVllmJsonl } from "../traces/vllmJsonl.ts"
import { repoRoot, tempDir } from "./helpers/fixtures.ts"

/** A Python with torch: Debian's python3-torch lives under /usr/bin/python3 (pyenv's python3 may lack it). */
const python = ["/usr/bin/python3", "python3"].find(
  (p) => spawnSync(p, ["-c", "import torch, numpy"], { encoding: "utf8" }).status === 0
)
const transformers = python !== undefined && spawnSync(python, ["-c", "import transformers"]).status === 0
if (!python && process.env.CI)
  throw new Error("CI must install python3-torch (.ci/run does): the recorder round-trip cannot be skipped there")
if (!python)
  console.log("skipping the recorder round-trip: no python3 with torch and numpy (apt-get install python3-torch)")
if (!transformers) console.log("skipping the transformers recorder test: transformers is not installed")

interface Row {
  request: number
  position: number
  token_id: number
  phase: string
  layers: Record<string, { experts: number[]; weights: number[]; probs: number[]; lookahead: number[][] }>
}

describe("the PyTorch recorder", () => {
  ;(python ? it : it.skip)(
    "records a tiny MoE; the canonical file and the JSONL fallback round-trip every field",
    () => {
      const dir = tempDir("ef-rec-")
      const r = spawnSync(python!, [join(repoRoot, "test", "recorder_roundtrip.py"), dir], { encoding: "utf8" })
      expect(r.stderr).toBe("")
      expect(r.status).toBe(0)
      const truth = JSON.parse(readFileSync(join(dir, "truth.json"), "utf8")) as Row[]
      const model = { name: "tiny-moe", layers: 4, experts: 8, topK: 2 }
      const eft = readTrace(join(dir, "trace.eft"))
      const jsonl = importVllmJsonl(join(dir, "trace.jsonl"), model)
      expect(eft.model).toEqual(model)
      expect(eft.lookaheadDepth).toBe(2)
      for (const t of [eft, jsonl]) {
        expect(t.tokens).toBe(truth.length)
        truth.forEach((row, i) => {
          expect([t.request[i], t.position[i], t.tokenId![i], t.phase![i]]).toEqual([
            row.request,
            row.position,
            row.token_id,
            row.phase === "prefill" ? 1 : 0
          ])
          for (let l = 0; l < 4; l++) {
            const c = row.layers[String(l)]!
            const cell = i * 4 + l
            expect(t.present[cell]).toBe(1)
            expect(Array.from(t.experts.subarray(cell * 2, cell * 2 + 2))).toEqual(c.experts)
            Array.from(t.weights!.subarray(cell * 2, cell * 2 + 2)).forEach((w, k) => {
              expect(w).toBeCloseTo(c.weights[k]!, 6)
            })
            Array.from(t.routerProbs!.subarray(cell * 8, cell * 8 + 8)).forEach((p, e) => {
              expect(p).toBeCloseTo(c.probs[e]!, 6)
            })
            c.lookahead.forEach((ids, d) => {
              expect(Array.from(t.lookahead!.subarray((cell * 2 + d) * 2, (cell * 2 + d) * 2 + 2))).toEqual(ids)
            })
          }
        })
      }
      // Prefill tokens of each request come first and are marked; decode tokens follow.
      expect(Array.from(eft.phase!)).toEqual([1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0])
    }
  )

  ;(python ? it : it.skip)(
    "records the experts each router actually routes to: DeepSeek-V3 (sigmoid, groups, bias; both layouts), " +
      "DeepSeek-V2 (group-limited greedy), GPT-OSS (top-k then softmax), lookahead included",
    () => {
      const out = join(tempDir("ef-replicas-"), "replicas.json")
      const r = spawnSync(
        python!,
        [join(repoRoot, "test", "recorder_replicas.py"), join(repoRoot, "traces", "recorder"), out],
        {
          encoding: "utf8"
        }
      )
      expect(r.stderr).toBe("")
      expect(r.status).toBe(0)
      const result = JSON.parse(readFileSync(out, "utf8")) as Record<string, Record<string, unknown>>
      expect(Object.keys(result)).toHaveLength(4)
      for (const [arch, v] of Object.entries(result)) {
        // Every (token, layer) of 2 requests × 4 layers, and every lookahead d = 1, 2 that exists.
        expect([arch, v.token_layer_agreement, v.lookahead_agreement, v.derived_layers]).toEqual([
          arch,
          "36/36",
          "45/45",
          []
        ])
      }
    }
  )

  ;(transformers ? it : it.skip)("records a tiny randomly initialised Mixtral through the transformers path", () => {
    const dir = tempDir("ef-hf-")
    const script = `
import sys, torch; sys.path.insert(0, "${join(repoRoot, "traces", "recorder")}")
from transformers import MixtralConfig, MixtralForCausalLM
from expertflow_recorder import RoutingRecorder
cfg = MixtralConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=3,
                    num_attention_heads=4, num_key_value_heads=2, num_local_experts=8, num_experts_per_tok=2)
m = MixtralForCausalLM(cfg).eval()
rec = RoutingRecorder.from_hf(m, lookahead=1)
with torch.no_grad(), rec.request(0, torch.tensor([[1, 2, 3]])):
    m(torch.tensor([[1, 2, 3]]))
rec.save("${join(dir, "hf.eft")}", model_name="tiny-mixtral")`
    const r = spawnSync(python!, ["-c", script], { encoding: "utf8" })
    expect(r.status).toBe(0)
    const t = readTrace(join(dir, "hf.eft"))
    expect([t.tokens, t.model.layers, t.model.experts, t.model.topK]).toEqual([3, 3, 8, 2])
  })
})
