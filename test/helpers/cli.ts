import { spawnSync } from "node:child_process"
import { join } from "node:path"
import { repoRoot } from "./fixtures.ts"

/** Run the real CLI (bin/expertflow.js) and capture its exit code and output. */
export function cli(args: string[], opts: { cwd?: string } = {}): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(repoRoot, "bin", "expertflow.js"), ...args], {
    cwd: opts.cwd ?? repoRoot,
    encoding: "utf8",
    env: { ...process.env, NODE_OPTIONS: "" },
    // A command that hangs fails its test (code -1) instead of stalling the whole run.
    timeout: 300_000
  })
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr }
}
