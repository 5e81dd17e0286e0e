import { existsSync } from "node:fs"
import { readInput } from "../base/readInput.ts"
import { join } from "node:path"
import { Argument, Command, Flag } from "effect/cli"
import { writeFileAtomic } from "../base/atomicWrite.mjs"
import { InputError } from "../base/errors.ts"
import { readResults, renderReport, validationSection } from "../reports/report.ts"
import type { Summary } from "../workflows/validate.ts"
import { action } from "./action.ts"
import { defaulted } from "./flags.ts"

export const reportCommand = Command.make(
  "report",
  {
    results: Argument.String("results").pipe(
      Argument.variadic({ min: 1 }),
      Argument.withDescription("results files (sweep --out, simulate --out)")
    ),
    out: Flag.String("out").pipe(defaulted("report.html", "the HTML file to write, or - for stdout")),
    validation: Flag.String("validation").pipe(
      Flag.atLeast(0),
      Flag.withDescription("a validate output folder: adds measured against simulated (repeatable; default: none)")
    )
  },
  (f) =>
    action(async () => {
      const sections = f.validation.map((dir) => {
        const file = join(dir, "comparison.json")
        if (!existsSync(file))
          throw new InputError(file, "file", "path", "no comparison.json: not a validate output folder")
        return validationSection(dir, JSON.parse(readInput(file, "utf8")) as Summary)
      })
      const command =
        `expertflow report ` +
        `${f.results.join(" ")}${f.validation.map((d) => ` --validation ${d}`).join("")} --out ${f.out}`
      const html = await renderReport(readResults([...f.results]), { command, files: [...f.results], sections })
      writeFileAtomic(f.out, html)
      if (f.out !== "-") process.stdout.write(`${f.out}\n`)
    })
).pipe(
  Command.withDescription("one self-contained HTML report (inline SVG charts, sortable metrics, provenance)"),
  Command.withExamples([
    {
      command: "expertflow report results.jsonl --out report.html",
      description: "the decision table, charts and metrics"
    }
  ])
)
