import { existsSync, mkdirSync, readFileSync, renameSync } from "node:fs"
import { TOOL_VERSION } from "../base/version.ts"
import { Command, Flag } from "effect/cli"
import { writeFileAtomic } from "../base/atomicWrite.mjs"
import { runSweep } from "../workflows/sweep.ts"
import { planSweep } from "../workflows/sweepFile.ts"
import { readResults, renderReport } from "../reports/report.ts"
import { action } from "./action.ts"
import { defaulted } from "./flags.ts"

/** `npm start`: the bundled default sweep, then its report; prints the report's path. */
export const startCommand = Command.make(
  "start",
  {
    sweep: Flag.String("sweep").pipe(defaulted("reports/sweeps/default.json", "the sweep to run")),
    outDir: Flag.String("out-dir").pipe(defaulted("out/default", "folder for results.jsonl and report.html"))
  },
  (f) =>
    action(async () => {
      const plan = planSweep(f.sweep)
      for (const id of plan.skippedTraces)
        process.stderr.write(
          `note: trace '${id}' left out: its file is not there (../shared beside the repo holds the real Mixtral ` +
            `trace)\n`
        )
      mkdirSync(f.outDir, { recursive: true })
      const results = `${f.outDir}/results.jsonl`,
        report = `${f.outDir}/report.html`
      // The folder is start's own: results of another ExpertFlow version are set aside, not reused.
      const stale = staleVersion(results)
      if (stale !== null) {
        renameSync(results, `${results}.${stale}`)
        process.stderr.write(`note: ${results} was written by ExpertFlow ${stale}; kept as ${results}.${stale}\n`)
      }
      const { ran, skipped } = await runSweep(plan, { out: results })
      process.stderr.write(`${plan.name}: ${ran} cells run, ${skipped} reused from ${results}\n`)
      writeFileAtomic(
        report,
        await renderReport(readResults([results]), {
          command: `expertflow start --sweep ${f.sweep} --out-dir ${f.outDir}`,
          files: [results]
        })
      )
      process.stdout.write(`${report}\n`)
    })
).pipe(
  Command.withDescription("run the bundled default sweep and write its HTML report (npm start)"),
  Command.withExamples([{ command: "expertflow start", description: "prints the report's path" }])
)

/** The version that wrote a results file when it is not this one (null: absent, empty or current). */
function staleVersion(file: string): string | null {
  if (!existsSync(file)) return null
  const first = readFileSync(file, "utf8").split("\n", 1)[0]!
  try {
    const v = (JSON.parse(first) as { version?: string }).version ?? "unknown"
    return v === TOOL_VERSION ? null : v
  } catch {
    return null // a torn or corrupt file: the sweep's own checks say what is wrong with it
  }
}
