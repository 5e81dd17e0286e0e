import { Command, Flag } from "effect/cli"
import { Effect } from "effect"
import { writeFileAtomic } from "../base/atomicWrite.mjs"
import { loadModel } from "../base/profiles.ts"
import { doctor, formatDoctor } from "../hw/doctor.ts"
import { calibrate } from "../hw/calibrate.ts"
import { loadCudart } from "../hw/cudart.ts"
import { loadCublas } from "../hw/cublas.ts"
import { action } from "./action.ts"

const doctorCmd = Command.make(
  "doctor",
  {
    format: Flag.Literals("format", ["table", "json"] as const).pipe(Flag.withDefault("table" as const))
  },
  (f) =>
    action(() => {
      const r = doctor()
      process.stdout.write(f.format === "json" ? `${JSON.stringify(r)}\n` : formatDoctor(r))
      if (!r.ok) process.exitCode = 2
    })
).pipe(Command.withDescription("what the GPU path can see, or exactly why it cannot run (exit 0 / 2)"))

const calibrateCmd = Command.make(
  "calibrate",
  {
    model: Flag.String("model").pipe(Flag.withDescription("model whose GEMM shapes are timed")),
    out: Flag.String("out").pipe(Flag.withDefault("calibrated-profile.json")),
    device: Flag.Int("device").pipe(Flag.withDefault(0))
  },
  (f) =>
    action(async () => {
      const ac = new AbortController()
      process.once("SIGINT", () => ac.abort())
      const r = doctor()
      if (!r.ok) {
        process.stderr.write(formatDoctor(r))
        process.exitCode = 2
        return
      }
      const cal = await Effect.runPromise(calibrate(loadCudart(), loadCublas(), loadModel(f.model), f.device), {
        signal: ac.signal
      })
      writeFileAtomic(f.out, `${JSON.stringify(cal.profile, null, 1)}\n`)
      process.stdout.write(`${JSON.stringify(cal.report)}\n`)
      process.stderr.write(`wrote ${f.out}\n`)
    })
).pipe(
  Command.withDescription("measure H2D, copy/compute overlap, expert FFN and layer times; write a hardware profile")
)

export const hwCommand = Command.make("hw").pipe(
  Command.withDescription("the CUDA backend: inspect and calibrate the GPU"),
  Command.withSubcommands([doctorCmd, calibrateCmd])
)
