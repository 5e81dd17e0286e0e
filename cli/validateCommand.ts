import { readFileSync } from "node:fs"
import { Command, Flag } from "effect/cli"
import { UsageError } from "../base/errors.ts"
import { HardwareProfileSchema, loadModel } from "../base/profiles.ts"
import { decodeOrThrow } from "../base/schemaDecode.ts"
import { parseBytes } from "../base/bytes.ts"
import { doctor, formatDoctor } from "../hw/doctor.ts"
import {
  comparisonMarkdown,
  configId,
  cudaRunner,
  revalidate,
  runValidation,
  type ValidateConfig
} from "../workflows/validate.ts"
import { action, opt } from "./action.ts"

export const validateCommand = Command.make(
  "validate",
  {
    measured: Flag.optional(Flag.String("measured")).pipe(
      Flag.withDescription("re-simulate committed measurements in this folder (no GPU)")
    ),
    trace: Flag.optional(Flag.String("trace")).pipe(
      Flag.withDescription("trace file, or synthetic:<model>:<tokens>:<requests>:<seed>")
    ),
    model: Flag.optional(Flag.String("model")),
    hw: Flag.optional(Flag.String("hw")).pipe(Flag.withDescription("the calibrated profile (hw calibrate --out)")),
    policies: Flag.String("policies").pipe(Flag.atLeast(0), Flag.withDescription("policy spec (repeat the flag)")),
    cacheSlots: Flag.Int("cache-slots").pipe(Flag.atLeast(0), Flag.withDescription("cache size (repeat the flag)")),
    batch: Flag.Int("batch").pipe(Flag.withDefault(1)),
    tokens: Flag.Int("tokens").pipe(
      Flag.withDefault(64),
      Flag.withDescription("replay the first N tokens of the trace")
    ),
    hostMem: Flag.String("host-mem").pipe(
      Flag.withDefault("32GiB"),
      Flag.withDescription("pinned host memory for the expert store")
    ),
    out: Flag.String("out").pipe(Flag.withDefault("validation")),
    format: Flag.Literals("format", ["table", "json"] as const).pipe(Flag.withDefault("table" as const))
  },
  (f) =>
    action(async () => {
      const measuredDir = opt(f.measured)
      if (measuredDir) {
        const s = revalidate(measuredDir)
        process.stdout.write(f.format === "json" ? `${JSON.stringify(s)}\n` : comparisonMarkdown(s))
        if (!s.within_bounds) process.exitCode = 1
        return
      }
      const trace = opt(f.trace),
        model = opt(f.model),
        hwFile = opt(f.hw)
      if (!trace || !model || !hwFile || f.policies.length === 0 || f.cacheSlots.length === 0) {
        throw new UsageError(
          "validate needs --trace, --model, --hw (a calibrated profile), and at least one --policies and " +
            "--cache-slots; or --measured DIR"
        )
      }
      loadModel(model)
      const hw = decodeOrThrow(HardwareProfileSchema, JSON.parse(readFileSync(hwFile, "utf8")), hwFile)
      const r = doctor()
      if (!r.ok) {
        process.stderr.write(formatDoctor(r))
        process.exitCode = 2
        return
      }
      // A file, or synthetic:<model>:<tokens>:<requests>:<seed> (the seeded generator).
      const syn = /^synthetic:([^:]+):(\d+):(\d+):(\d+)$/.exec(trace)
      const traceSpec = syn
        ? {
            id: trace,
            model: syn[1]!,
            synthetic: { tokens: Number(syn[2]), requests: Number(syn[3]), seed: Number(syn[4]) }
          }
        : { id: trace, model, path: trace }
      const configs: ValidateConfig[] = f.policies.flatMap((policy) =>
        f.cacheSlots.map((slots) => {
          const c = { trace: traceSpec, model, policy, slots, batch: f.batch, tokens: f.tokens }
          return { id: configId(c), ...c }
        })
      )
      const ac = new AbortController()
      process.once("SIGINT", () => ac.abort())
      const s = await runValidation(
        configs,
        hw,
        f.out,
        cudaRunner({ hostBytes: parseBytes(f.hostMem), device: 0 }, ac.signal)
      )
      process.stdout.write(f.format === "json" ? `${JSON.stringify(s)}\n` : comparisonMarkdown(s))
    })
).pipe(Command.withDescription("run policies on the GPU and in the simulator; compare total and stall time"))
