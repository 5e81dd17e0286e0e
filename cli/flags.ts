/**
 * Flags that explain themselves: effect/cli prints a flag's description but not its default, so
 * every defaulted flag states it in its help line. Shared flags are spelled once here.
 */
import { Flag } from "effect/cli"
import { TRACE_FORMATS } from "../traces/load.ts"

/** A flag with its default, stated in `--help`. */
export const defaulted =
  <A>(value: A, description: string) =>
  (flag: Flag.Flag<A>): Flag.Flag<A> =>
    flag.pipe(Flag.withDefault(value), Flag.withDescription(`${description} (default: ${String(value)})`))

export const modelFlag = (required: "required" | "optional-for-self-describing") =>
  Flag.optional(Flag.String("model")).pipe(
    Flag.withDescription(
      "model preset id (quantized: ID@int4-g128, ID@hqq-4/3, ID@fp8, …) or profile JSON" +
        (required === "required" ? "" : "; optional when the trace carries its model (.eft, route trace)")
    )
  )

export const traceFormatFlag = Flag.optional(Flag.Literals("trace-format", TRACE_FORMATS)).pipe(
  Flag.withDescription(
    "the trace's format when detection from its first bytes should be overridden (default: detected)"
  )
)

export const outputFormatFlag = Flag.Literals("format", ["table", "json"] as const).pipe(
  defaulted<"table" | "json">("table", "table for people, json for programs")
)

export const seedFlag = Flag.Int("seed").pipe(defaulted(0, "seed of every random choice (runs are deterministic)"))
