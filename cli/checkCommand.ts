import { Command, Flag } from "effect/cli"
import { check, parseTolerance } from "../reports/check.ts"
import { EXIT } from "../base/errors.ts"
import { action, opt } from "./action.ts"
import { defaulted } from "./flags.ts"

export const checkCommand = Command.make(
  "check",
  {
    baseline: Flag.String("baseline").pipe(defaulted("reports/baseline.json", "the committed baseline of metrics")),
    suite: Flag.String("suite").pipe(defaulted("reports/sweeps/regression.json", "the regression sweep")),
    tolerance: Flag.optional(Flag.String("tolerance")).pipe(
      Flag.withDescription("absolute tolerances, e.g. stall_fraction=0.002,hit_rate=0.001 (default: exact)")
    ),
    update: Flag.Boolean("update").pipe(defaulted(false, "rewrite the baseline from this run (review the diff)"))
  },
  (f) =>
    action(() => {
      const out = check(f.suite, f.baseline, parseTolerance(opt(f.tolerance)), f.update)
      process.stdout.write(`${out.lines.join("\n")}\n`)
      if (out.regressions > 0) process.exitCode = EXIT.regression
    })
).pipe(
  Command.withDescription(
    "run the regression suite and compare stall, hit and precision metrics with a baseline (exit 3 on a regression)"
  ),
  Command.withExamples([
    { command: "expertflow check", description: "CI's gate: exit 0, or 3 with the cells that moved" }
  ])
)
