import { Command, Flag } from "effect/cli"
import { Effect } from "effect"
import { writeFileAtomic } from "../base/atomicWrite.mjs"
import { loadModel } from "../base/profiles.ts"
import { doctor, formatDoctor } from "../hw/doctor.ts"
import { calibrate } from "../hw/calibrate.ts"
import { loadCudart } from "../hw/cudart.ts"
import { loadCublas } from "../hw/cublas.ts"
import { EnvironmentError } from "../base/errors.ts"
import { action } from "./action.ts"
import { defaulted, outputFormatFlag } from "./flags.ts"

const doctorCmd = Command.make(
  "doctor",
  {
    format: outputFormatFlag
  },
  (f) =>
    action(() => {
      const r = doctor()
      // The report is the result when the GPU path is usable; otherwise it explains the failure.
      if (r.ok) process.stdout.write(f.format === "json" ? `${JSON.stringify(r)}\n` : formatDoctor(r))
      else {
        if (f.format === "json") process.stdout.write(`${JSON.stringify(r)}\n`)
        else process.stderr.write(formatDoctor(r).replace(/\n?not usable: .*\n$/, "\n"))
        throw new EnvironmentError(`the GPU path cannot run: ${r.reason}`)
      }
    })
).pipe(
  Command.withDescription("what the GPU path can see, or exactly why it cannot run (exit 0, or 4)"),
  Command.withExamples([{ command: "expertflow hw doctor", description: "driver, devices, cuBLAS, the PCIe link" }])
)

/** The GPU path must be usable, else exit 4 with the reason (`hw doctor` shows everything it tried). */
export function requireGpu(): void {
  const r = doctor()
  if (!r.ok) throw new EnvironmentError(`the GPU path cannot run: ${r.reason} (details: expertflow hw doctor)`)
}

const calibrateCmd = Command.make(
  "calibrate",
  {
    model: Flag.String("model").pipe(
      Flag.withDescription("model whose expert sizes and GEMM shapes are timed (required)")
    ),
    out: Flag.String("out").pipe(defaulted("calibrated-profile.json", "the hardware profile to write")),
    device: Flag.Int("device").pipe(defaulted(0, "CUDA device index"))
  },
  (f) =>
    action(async () => {
      const ac = new AbortController()
      process.once("SIGINT", () => ac.abort())
      requireGpu()
      const cal = await Effect.runPromise(calibrate(loadCudart(), loadCublas(), loadModel(f.model), f.device), {
        signal: ac.signal
      })
      writeFileAtomic(f.out, `${JSON.stringify(cal.profile, null, 1)}\n`)
      process.stdout.write(`${JSON.stringify(cal.report)}\n`)
      process.stderr.write(`wrote ${f.out}\n`)
    })
).pipe(
  Command.withDescription("measure H2D, copy/compute overlap, expert FFN and layer times; write a hardware profile"),
  Command.withExamples([
    { command: "expertflow hw calibrate --model mixtral-8x7b --out h100.json", description: "then --hw h100.json" }
  ])
)

export const hwCommand = Command.make("hw").pipe(
  Command.withDescription("the CUDA backend: inspect and calibrate the GPU"),
  Command.withSubcommands([doctorCmd, calibrateCmd])
)
