import { describe, expect, it } from "@jest/globals"
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { CudaError, loadCudart } from "../hw/cudart.ts"
import { loadCublas } from "../hw/cublas.ts"
import { doctor } from "../hw/doctor.ts"
import { findLibrary, LibraryNotFound } from "../hw/libraries.ts"
import { configId, revalidate, runValidation, virtualRunner, type ValidateConfig } from "../workflows/validate.ts"
import { loadHardware } from "../base/profiles.ts"
import { cli } from "./helpers/cli.ts"
import { repoRoot, tempDir } from "./helpers/fixtures.ts"

const report = doctor()
const haveRuntime = !("error" in report.cudart)
if (!haveRuntime) console.log("skipping the libcudart binding test: no CUDA runtime on this machine")
if (!report.ok) console.log(`skipping the GPU tests: ${report.reason}`)

describe("CUDA bindings (real libraries, no GPU needed)", () => {
  ;(haveRuntime ? it : it.skip)("the real libcudart loads and reports a missing driver as a typed error", () => {
    const rt = loadCudart()
    expect(rt.runtimeVersion()).toBeGreaterThan(0)
    if (report.ok) return
    let err: unknown
    try {
      rt.deviceCount()
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(CudaError)
    const ce = err as CudaError
    expect(ce.call).toBe("cudaGetDeviceCount")
    expect(ce.errorName).toMatch(/^cudaError/)
    expect(ce.errorString.length).toBeGreaterThan(10)
    expect(ce.message).toContain(ce.errorName)
  })
  it("a missing library names everywhere it looked", () => {
    let err: unknown
    try {
      findLibrary(["libexpertflow-missing.so"], "nothing")
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(LibraryNotFound)
    const tried = (err as LibraryNotFound).tried.join("\n")
    expect(tried).toContain("/usr/local/cuda/lib64/libexpertflow-missing.so")
    expect(tried).toContain("nvidia/nothing/lib")
  })
  it("cuBLAS: loads where installed, else a LibraryNotFound", () => {
    try {
      expect(loadCublas().path).toMatch(/cublas/)
    } catch (e) {
      expect(e).toBeInstanceOf(LibraryNotFound)
    }
  })
  it("hw doctor: exit 0 with a device, else exit 4 (environment) with the precise reason on stderr", () => {
    const r = cli(["hw", "doctor"])
    if (report.ok) expect(r.code).toBe(0)
    else {
      expect(r.code).toBe(4)
      expect(r.stdout).toBe("")
      expect(r.stderr).toContain(`environment: the GPU path cannot run: ${report.reason}`)
    }
  })
})

describe("validate (machinery, with the ideal virtual GPU; never a measurement)", () => {
  const hw = loadHardware("h100-pcie")
  const configs: ValidateConfig[] = ["cache=lru", "cache=lru,prefetch=fixed:1,predictor=oracle"].flatMap((policy) =>
    [48, 96].map((slots) => {
      const c = {
        trace: { id: "syn", model: "mixtral-8x7b", synthetic: { tokens: 24, requests: 2, seed: 3 } },
        model: "mixtral-8x7b",
        policy,
        slots,
        batch: 1,
        tokens: 24
      }
      return { id: configId(c), ...c }
    })
  )
  it("writes both records and timelines, and re-simulation flags drift beyond the bounds", async () => {
    const dir = tempDir("ef-validate-")
    const s = await runValidation(configs, hw, dir, virtualRunner(hw))
    expect(s.configs).toHaveLength(4)
    expect(s.total_error_max).toBe(0) // an ideal GPU is the model itself
    for (const c of configs)
      for (const f of [
        "config.json",
        "measured.json",
        "simulated.json",
        "measured.timeline.json",
        "simulated.timeline.json"
      ])
        expect(existsSync(join(dir, c.id, f))).toBe(true)
    expect(JSON.parse(readFileSync(join(dir, configs[0]!.id, "measured.json"), "utf8")).executor.kind).toBe("virtual")
    const again = revalidate(dir)
    expect(again.within_bounds).toBe(true)
    const ok = cli(["validate", "--measured", dir, "--format", "json"])
    expect(ok.code).toBe(0)
    expect(Object.keys(JSON.parse(ok.stdout))).toEqual(
      expect.arrayContaining(["configs", "total_error_median", "total_error_max", "stall_error_of_total_median"])
    )
    // The simulator drifts: the link it models is 20% faster than what was "measured".
    const profile = JSON.parse(readFileSync(join(dir, "profile.json"), "utf8"))
    writeFileSync(
      join(dir, "profile.json"),
      JSON.stringify({ ...profile, h2dBandwidthGBps: profile.h2dBandwidthGBps * 1.2 })
    )
    expect(revalidate(dir).within_bounds).toBe(false)
    expect(cli(["validate", "--measured", dir]).code).toBe(3) // drift beyond the bounds: a regression
  })
})

describe("committed GPU measurements (hw/measurements/<run>/<regime>/)", () => {
  const root = join(repoRoot, "hw", "measurements")
  const runs = readdirSync(root, { withFileTypes: true }).filter((d) => d.isDirectory())
  it("at least one run is committed", () => {
    expect(runs.length).toBeGreaterThan(0)
  })
  for (const run of runs) {
    const dir = join(root, run.name)
    const baseline = JSON.parse(readFileSync(join(dir, "errors-baseline.json"), "utf8")) as Record<
      string,
      Record<string, number | boolean>
    >
    for (const regime of Object.keys(baseline)) {
      const folder = join(dir, regime)
      // Configurations replaying the real Mixtral trace need ../shared; synthetic ones regenerate.
      const needs = readdirSync(folder, { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .map(
          (d) => JSON.parse(readFileSync(join(folder, d.name, "config.json"), "utf8")).trace.path as string | undefined
        )
        .find((p) => p !== undefined && !existsSync(join(repoRoot, p)))
      if (needs) console.log(`skipping the re-simulation of ${run.name}/${regime}: ${needs} is absent`)
      ;(needs ? it.skip : it)(
        `${run.name}/${regime}: re-simulated, no error grew beyond the committed baseline`,
        () => {
          const s = revalidate(folder)
          const b = baseline[regime]!
          expect(s.configs).toHaveLength(b.configs as number)
          for (const k of [
            "total_error_median",
            "total_error_max",
            "stall_error_of_total_median",
            "stall_error_of_total_max"
          ] as const)
            expect([k, s[k] <= (b[k] as number) + 1e-9]).toEqual([k, true])
          // A regime that meets the bounds must keep meeting them.
          if (b.within_bounds) expect(s.within_bounds).toBe(true)
        }
      )
    }
  }
})

describe("on a GPU", () => {
  ;(report.ok ? it : it.skip)("validates LRU and oracle prefetch on a synthetic trace", async () => {
    const dir = tempDir("ef-gpu-")
    const r = cli([
      "validate",
      "--trace",
      "synthetic:qwen1.5-moe-a2.7b:64:2:1",
      "--model",
      "qwen1.5-moe-a2.7b",
      "--hw",
      join(repoRoot, "base/profiles/hardware/h100-sxm.json"),
      "--policies",
      "cache=lru",
      "--cache-slots",
      "256",
      "--out",
      dir
    ])
    expect(r.code).toBe(0)
  })
})
