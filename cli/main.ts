#!/usr/bin/env node
import { Effect } from "effect"
import { Command } from "effect/cli"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { TOOL_VERSION } from "../base/version.ts"
import { EXIT } from "../base/errors.ts"
import { cliState, reportFailure } from "./action.ts"
import { accuracyCommand } from "./accuracyCommand.ts"
import { checkCommand } from "./checkCommand.ts"
import { hwCommand } from "./hwCommand.ts"
import { validateCommand } from "./validateCommand.ts"
import { reportCommand } from "./reportCommand.ts"
import { startCommand } from "./startCommand.ts"
import { reproduceCommand } from "./reproduceCommand.ts"
import { mergeCommand, sweepCommand } from "./sweepCommand.ts"
import { simulateCommand } from "./simulateCommand.ts"
import { traceCommand } from "./traceCommand.ts"

const app = Command.make("expertflow").pipe(
  Command.withDescription(
    "ExpertFlow: design, compare and regression-test MoE expert caching and prefetching policies. " +
      "Results go to stdout, summaries and errors to stderr. Exit codes: 0 ok, 1 usage, 2 bad input, " +
      "3 regression found, 4 environment (no GPU, a library missing), 70 internal error (add --verbose for the stack)."
  ),
  Command.withSubcommands([
    simulateCommand,
    sweepCommand,
    mergeCommand,
    reportCommand,
    checkCommand,
    hwCommand,
    validateCommand,
    traceCommand,
    accuracyCommand,
    reproduceCommand,
    startCommand
  ])
)

// --verbose anywhere on the line: internal errors print their stack (cli/action.ts).
if (process.argv.includes("--verbose")) {
  cliState.verbose = true
  process.argv = process.argv.filter((a) => a !== "--verbose")
}

Effect.runPromiseExit(Command.run(app, { version: TOOL_VERSION }).pipe(Effect.provide(NodeServices.layer))).then(
  (exit) => {
    // effect/cli has already printed parse errors and help; a failed parse is a usage error.
    if (exit._tag === "Failure" && !process.exitCode) process.exitCode = EXIT.usage
  },
  (e) => reportFailure(e)
)
