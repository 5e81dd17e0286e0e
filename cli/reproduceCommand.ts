import { Command, Flag } from "effect/cli"
import { writeFileAtomic } from "../base/atomicWrite.mjs"
import { reproduce } from "../reports/reproduce.ts"
import { action } from "./action.ts"
import { defaulted } from "./flags.ts"

export const DEFAULT_REAL_TRACE = "../shared/traces/mixtral-8x7b-vllm/humaneval_2_routing.jsonl"

export const reproduceCommand = Command.make(
  "reproduce",
  {
    out: Flag.String("out").pipe(defaulted("docs/reproduction.md", "the claims ledger to write")),
    trace: Flag.String("trace").pipe(defaulted(DEFAULT_REAL_TRACE, "the real Mixtral trace (vLLM JSONL)"))
  },
  (f) =>
    action(() => {
      writeFileAtomic(f.out, `${reproduce(f.trace)}\n`)
      process.stderr.write(`wrote ${f.out}\n`)
    })
).pipe(
  Command.withDescription("regenerate docs/reproduction.md: both ExpertFlow papers' claims against this simulator"),
  Command.withExamples([
    { command: "expertflow reproduce", description: "rewrites docs/reproduction.md, byte for byte" }
  ])
)
