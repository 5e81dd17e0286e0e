import { describe, expect, it } from "@jest/globals"
import { cli } from "./helpers/cli.ts"

const COMMANDS = [
  ["simulate"],
  ["sweep"],
  ["merge"],
  ["report"],
  ["check"],
  ["start"],
  ["validate"],
  ["accuracy"],
  ["reproduce"],
  ["hw", "doctor"],
  ["hw", "calibrate"],
  ["trace", "import"],
  ["trace", "stats"],
  ["trace", "export"],
  ["trace", "gen"],
  ["trace", "fit"],
  ["trace", "compare"]
]

/** The lines of one section of `--help` (FLAGS, EXAMPLES, …). */
const section = (help: string, name: string): string[] => {
  const lines = help.split("\n")
  const at = lines.indexOf(name)
  if (at < 0) return []
  const end = lines.findIndex((l, i) => i > at && l.trim() === "")
  return lines.slice(at + 1, end < 0 ? undefined : end)
}

describe("a CLI that explains itself", () => {
  it.each(COMMANDS.map((c) => [c.join(" "), c] as const))(
    "%s: every flag described (defaults stated), one real example",
    (_name, cmd) => {
      const r = cli([...cmd, "--help"])
      expect(r.code).toBe(0)
      for (const line of section(r.stdout, "FLAGS")) {
        // "  --flag type    description": a description after the flag and its type.
        const m = /^\s+(--[^\s,]+(?:, --?[^\s,]+)*)(?: \S+)?\s{2,}(\S.*)$/.exec(line)
        expect([line, m !== null]).toEqual([line, true])
        const description = m![2]!
        const boolean = !/^\s+--[^\s,]+(?:, --?[^\s,]+)* \S+\s{2,}/.test(line)
        // Every flag with a value says its default, or that it is required or optional.
        if (!boolean)
          expect([line, /default|required|\(one of|repeat|optional/.test(description)]).toEqual([line, true])
      }
      const examples = section(r.stdout, "EXAMPLES")
      expect(examples.some((l) => l.trim().startsWith("expertflow "))).toBe(true)
    }
  )
})
