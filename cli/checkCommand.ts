import { Command, Flag } from "effect/cli"
import { check, parseTolerance } from "../reports/check.ts"
import { action, opt } from "./action.ts"

export const checkCommand = Command.make(
  "check",
  {
    baseline: Flag.String("baseline").pipe(Flag.withDefault("reports/baseline.json")),
    suite: Flag.String("suite").pipe(Flag.withDefault("reports/sweeps/regression.json")),
    tolerance: Flag.optional(Flag.String("tolerance")).pipe(
      Flag.withDescription("e.g. stall_fraction=0.002,hit_rate=0.001 (absolute)")
    ),
    update: Flag.Boolean("update").pipe(Flag.withDefault(false))
  },
  (f) =>
    action(() => {
      const out = check(f.suite, f.baseline, parseTolerance(opt(f.tolerance)), f.update)
      process.stdout.write(`${out.lines.join("\n")}\n`)
      if (out.regressions > 0) process.exitCode = 1
    })
).pipe(Command.withDescription("run the regression suite and compare stall, hit and precision metrics with a baseline"))
