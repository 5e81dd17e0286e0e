import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { fileURLToPath } from "node:url"
import { dirname, join } from "node:path"
import { it } from "@jest/globals"
import type { HardwareProfile, ModelProfile } from "../../base/profiles.ts"
import { GAP, type Trace } from "../../traces/trace.ts"

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..")
/** The sibling data folder (../shared); CI has it, a plain clone may not. */
export const SHARED = join(repoRoot, "..", "shared")
export const MIXTRAL_TRACE = join(SHARED, "traces", "mixtral-8x7b-vllm", "humaneval_2_routing.jsonl")
export const haveSharedTrace = existsSync(MIXTRAL_TRACE)

/**
 * `it`, or `it.skip` with the reason printed once, for tests that read `file` from ../shared:
 * a clone without it runs everything else and says what it left out.
 */
export function withShared(file: string, what: string) {
  if (existsSync(file)) return it
  // Straight to stderr: jest shows no console output for a file whose every test is skipped.
  process.stderr.write(`skipping ${what}: ${file} is absent (the ../shared data folder is not beside the repo)\n`)
  return it.skip
}

const made: string[] = []
/** A temporary folder, removed when the test file ends (test/helpers/cleanup.ts). */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  made.push(dir)
  return dir
}
export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true })
}

/** A tiny trace from per-token routing: routes[t][l] = expert ids (or null for a gap). */
export function tinyTrace(routes: Array<Array<number[] | null>>, experts: number, requests?: number[]): Trace {
  const T = routes.length,
    L = routes[0]!.length
  const K = routes.flat().find((r) => r !== null)!.length
  const weights = new Float32Array(T * L * K)
  const t: Trace = {
    model: { name: "tiny", layers: L, experts, topK: K },
    tokens: T,
    request: Int32Array.from(requests ?? routes.map(() => 0)),
    position: new Int32Array(T),
    phase: null,
    tokenId: null,
    present: new Uint8Array(T * L),
    experts: new Uint16Array(T * L * K).fill(GAP),
    weights,
    routerProbs: null,
    lookaheadDepth: 0,
    lookahead: null,
    predictionDepth: 0,
    predicted: null,
    source: { kind: "test", description: "hand-made", recording: "none" }
  }
  const pos = new Map<number, number>()
  for (let i = 0; i < T; i++) {
    const r = t.request[i]!
    t.position[i] = pos.get(r) ?? 0
    pos.set(r, t.position[i]! + 1)
    for (let l = 0; l < L; l++) {
      const set = routes[i]![l]
      if (!set) continue
      t.present[i * L + l] = 1
      set.forEach((e, k) => {
        t.experts[(i * L + l) * K + k] = e
        weights[(i * L + l) * K + k] = 1 / K
      })
    }
  }
  return t
}

export function tinyModel(layers: number, experts: number, topK: number): ModelProfile {
  return {
    id: "tiny",
    name: "tiny",
    layers,
    experts,
    topK,
    sharedExperts: 0,
    hiddenSize: 16,
    expertIntermediateSize: 32,
    expertMatrices: 3,
    sharedExpertIntermediateSize: 0,
    bytesPerParam: 2,
    nonExpertParamsPerLayer: 1024,
    residentParams: 0,
    sources: {}
  }
}

/** Hardware whose times are exact: every transfer `h2dNs`, every expert FFN `ffnNs`, every layer's non-expert part
 * `layerNs`. */
export function exactHardware(h2dNs: number, ffnNs: number, layerNs: number, copyEngines = 1): HardwareProfile {
  return {
    id: "exact",
    name: "exact",
    h2dBandwidthGBps: 1,
    h2dLatencyNs: 0,
    copyEngines,
    hbmBandwidthGBps: 1,
    bf16Tflops: 1,
    expertLaunchNs: 0,
    nonExpertLaunchNs: 0,
    gpuMemoryBytes: 1 << 30,
    h2dTable: [{ bytes: 1, ns: h2dNs }],
    expertFfnTable: [{ tokens: 1, ns: ffnNs }],
    nonExpertTable: [{ tokens: 1, ns: layerNs }],
    sources: {}
  }
}
