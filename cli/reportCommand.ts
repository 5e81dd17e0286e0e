import { Argument, Command, Flag } from "effect/cli"
import { writeFileAtomic } from "../sim/atomicWrite.ts"
import { readResults, renderReport } from "../reports/report.ts"
import { action } from "./action.ts"

export const reportCommand = Command.make("report", {
  results: Argument.String("results").pipe(Argument.variadic({ min: 1 })),
  out: Flag.String("out").pipe(Flag.withDefault("report.html"))
}, (f) => action(async () => {
  const html = await renderReport(readResults([...f.results]), { command: `expertflow report ${f.results.join(" ")} --out ${f.out}`, files: [...f.results] })
  writeFileAtomic(f.out, html)
  process.stdout.write(`${f.out}\n`)
})).pipe(Command.withDescription("one self-contained HTML report (inline SVG charts, sortable metrics, provenance)"))
