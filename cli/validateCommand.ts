import { Command, Flag } from "effect/cli"
import { EXIT, UsageError } from "../base/errors.ts"
import { loadHardware, loadModel } from "../base/profiles.ts"
import { parseBytes } from "../base/bytes.ts"
import { requireGpu } from "./hwCommand.ts"
import {
  comparisonMarkdown,
  configId,
  cudaRunner,
  revalidate,
  runValidation,
  type ValidateConfig
} from "../workflows/validate.ts"
import { action, opt } from "./action.ts"
import { defaulted, outputFormatFlag } from "./flags.ts"

export const validateCommand = Command.make(
  "validate",
  {
    measured: Flag.optional(Flag.String("measured")).pipe(
      Flag.withDescription("re-simulate the measurements in this folder, no GPU needed (optional; exit 3 off bounds)")
    ),
    trace: Flag.optional(Flag.String("trace")).pipe(
      Flag.withDescription("trace file, or synthetic:<model>:<tokens>:<requests>:<seed> (with a GPU: required)")
    ),
    model: Flag.optional(Flag.String("model")).pipe(Flag.withDescription("model preset id (with a GPU: required)")),
    hw: Flag.optional(Flag.String("hw")).pipe(
      Flag.withDescription(
        "the calibrated profile (hw calibrate --out), or a datasheet preset id (with a GPU: required)"
      )
    ),
    policies: Flag.String("policy").pipe(
      Flag.withAlias("policies"),
      Flag.atLeast(0),
      Flag.withDescription("policy spec; repeat the flag for several (--policies is the old spelling)")
    ),
    cacheSlots: Flag.Int("cache-slots").pipe(
      Flag.atLeast(0),
      Flag.withDescription("cache size in slots; repeat the flag for several")
    ),
    batch: Flag.Int("batch").pipe(defaulted(1, "continuous-batching width")),
    tokens: Flag.Int("tokens").pipe(defaulted(64, "replay the first N tokens of the trace")),
    hostMem: Flag.String("host-mem").pipe(defaulted("32GiB", "pinned host memory for the expert store")),
    out: Flag.String("out").pipe(defaulted("validation", "output folder (records, timelines, comparison)")),
    format: outputFormatFlag
  },
  (f) =>
    action(async () => {
      const measuredDir = opt(f.measured)
      if (measuredDir) {
        const s = revalidate(measuredDir)
        process.stdout.write(f.format === "json" ? `${JSON.stringify(s)}\n` : comparisonMarkdown(s))
        if (!s.within_bounds) process.exitCode = EXIT.regression
        return
      }
      const trace = opt(f.trace),
        model = opt(f.model),
        hwFile = opt(f.hw)
      if (!trace || !model || !hwFile || f.policies.length === 0 || f.cacheSlots.length === 0) {
        throw new UsageError(
          "validate needs --trace, --model, --hw (a calibrated profile), and at least one --policy and " +
            "--cache-slots; or --measured DIR"
        )
      }
      loadModel(model)
      // A calibrated profile (hw calibrate --out), or a datasheet preset id.
      const hw = loadHardware(hwFile)
      requireGpu()
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
).pipe(
  Command.withDescription("run policies on the GPU and in the simulator; compare total and stall time"),
  Command.withExamples([
    {
      command:
        "expertflow validate --trace synthetic:olmoe-1b-7b:64:4:1 --model olmoe-1b-7b --hw h100.json " +
        "--policy cache=lru --policy cache=lru,prefetch=fixed:1,predictor=oracle --cache-slots 256",
      description: "measured and simulated, side by side"
    }
  ])
)
