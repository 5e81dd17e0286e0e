import { Command, Flag } from "effect/cli"
import { writeFileAtomic } from "../base/atomicWrite.mjs"
import { reproduce } from "../reports/reproduce.ts"
import { action } from "./action.ts"

export const DEFAULT_REAL_TRACE = "../shared/traces/mixtral-8x7b-vllm/humaneval_2_routing.jsonl"

export const reproduceCommand = Command.make(
  "reproduce",
  {
    out: Flag.String("out").pipe(Flag.withDefault("docs/reproduction.md")),
    trace: Flag.String("trace").pipe(
      Flag.withDefault(DEFAULT_REAL_TRACE),
      Flag.withDescription("the real Mixtral trace (vLLM JSONL)")
    )
  },
  (f) =>
    action(() => {
      writeFileAtomic(f.out, `${reproduce(f.trace)}\n`)
      process.stdout.write(`wrote ${f.out}\n`)
    })
).pipe(
  Command.withDescription("regenerate docs/reproduction.md: both ExpertFlow papers' claims against this simulator")
)
