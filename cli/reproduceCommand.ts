import { existsSync } from "node:fs"
import { Command, Flag } from "effect/cli"
import { writeFileAtomic } from "../base/atomicWrite.mjs"
import { UsageError } from "../base/errors.ts"
import { requireFile } from "../base/readInput.ts"
import { SCENARIOS } from "../reports/paperScenarios.ts"
import { reproduce } from "../reports/reproduce.ts"
import { action, opt } from "./action.ts"
import { defaulted } from "./flags.ts"

export const DEFAULT_REAL_TRACE = "../shared/traces/mixtral-8x7b-vllm/humaneval_2_routing.jsonl"
const NAMES = [...SCENARIOS.map((s) => s.name), "real-mixtral"]

export const reproduceCommand = Command.make(
  "reproduce",
  {
    out: Flag.String("out").pipe(defaulted("docs/reproduction.md", "the claims ledger to write")),
    trace: Flag.String("trace").pipe(
      defaulted(
        DEFAULT_REAL_TRACE,
        "the real Mixtral trace (vLLM JSONL); its section is left out when the default is absent"
      )
    ),
    scenario: Flag.optional(Flag.String("scenario")).pipe(
      Flag.withDescription(
        `run one scenario and print its section to stdout (${NAMES.join(", ")}) (default: all, to --out)`
      )
    )
  },
  (f) =>
    action(() => {
      const scenario = opt(f.scenario)
      if (scenario !== undefined && !NAMES.includes(scenario))
        throw new UsageError(`unknown scenario '${scenario}' (known: ${NAMES.join(", ")})`)
      let realTrace: string | null = f.trace
      if (f.trace === DEFAULT_REAL_TRACE && !existsSync(f.trace)) {
        process.stderr.write(`note: ${f.trace} is absent: the real-trace section is left out\n`)
        realTrace = null
      } else requireFile(f.trace)
      if (scenario !== undefined) {
        process.stdout.write(`${reproduce({ realTrace, scenario })}\n`)
        return
      }
      writeFileAtomic(f.out, `${reproduce({ realTrace })}\n`)
      process.stderr.write(`wrote ${f.out}\n`)
    })
).pipe(
  Command.withDescription(
    "regenerate docs/reproduction.md: both ExpertFlow papers' claims, each in the paper's own setting, with a verdict"
  ),
  Command.withExamples([
    { command: "expertflow reproduce", description: "rewrites docs/reproduction.md, byte for byte (a few minutes)" },
    { command: "expertflow reproduce --scenario efh-memory", description: "one scenario's tables, to stdout" }
  ])
)
