/**
 * The edge between effect/cli and the plain-TypeScript core, and the one error path: every
 * command's handler runs here, and every failure ends here as one line on stderr and a documented
 * exit code (base/errors.ts EXIT): 1 usage, 2 bad input, 4 environment, 70 internal (with the
 * stack under --verbose). Results go to stdout; summaries and errors to stderr.
 */
import { Effect, Option } from "effect"
import { EnvironmentError, EXIT, InputError, UsageError } from "../base/errors.ts"

/** Set by cli/main.ts from the global --verbose flag. */
export const cliState = { verbose: false }

/** Node's system errors (ENOENT, EACCES, EISDIR, …) on a path the user gave: bad input. */
const FILE_ERRORS: Record<string, string> = {
  ENOENT: "no such file or folder",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EISDIR: "is a folder, not a file",
  ENOTDIR: "a part of the path is not a folder",
  EROFS: "read-only file system",
  ENOSPC: "no space left on the device",
  EEXIST: "already exists",
  ESPIPE: "cannot seek: this output needs a regular file",
  EMFILE: "too many open files"
}

/** The exit code and the one line a failure prints. */
export function describeFailure(e: unknown): { code: number; line: string } {
  if (e instanceof InputError) return { code: EXIT.input, line: `error: ${e.message}` }
  if (e instanceof UsageError) return { code: EXIT.usage, line: `usage error: ${e.message}` }
  const tag = (e as { _tag?: string } | null)?._tag
  if (e instanceof EnvironmentError || tag === "LibraryNotFound" || tag === "CudaError" || tag === "CublasError")
    return { code: EXIT.environment, line: `environment: ${(e as Error).message}` }
  const sys = e as NodeJS.ErrnoException | null
  if (sys && typeof sys.code === "string" && sys.code in FILE_ERRORS) {
    const where = sys.path ?? (sys as { dest?: string }).dest ?? ""
    return { code: EXIT.input, line: `error: ${where ? `${where}: ` : ""}${FILE_ERRORS[sys.code]} (${sys.code})` }
  }
  const message = e instanceof Error ? e.message : String(e)
  return {
    code: EXIT.internal,
    line: `internal error: ${message}${cliState.verbose ? "" : " (run again with --verbose for the stack)"}`
  }
}

/** Print a failure's line (and its stack with --verbose) and set the exit code. */
export function reportFailure(e: unknown): void {
  const { code, line } = describeFailure(e)
  process.stderr.write(`${line.split("\n")[0]}\n`)
  // Multi-line details (a sweep file's list of problems) follow the one line.
  const rest = line.split("\n").slice(1)
  if (rest.length > 0) process.stderr.write(`${rest.join("\n")}\n`)
  if (cliState.verbose && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`)
  process.exitCode = code
}

export const action = (run: () => void | Promise<void>) =>
  Effect.promise(async () => {
    try {
      await run()
    } catch (e) {
      reportFailure(e)
    }
  })

export const opt = <A>(o: Option.Option<A>): A | undefined => Option.getOrUndefined(o)
