/**
 * The edge between effect/cli and the plain-TypeScript core: run a handler, print its output,
 * and turn known errors into the documented exit codes (1 usage, 2 bad input) with one clear line.
 */
import { Effect, Option } from "effect"
import { InputError, UsageError } from "../base/errors.ts"

export const action = (run: () => void | Promise<void>) =>
  Effect.promise(async () => {
    try {
      await run()
    } catch (e) {
      if (e instanceof InputError) {
        process.stderr.write(`error: ${e.message}\n`)
        process.exitCode = 2
      } else if (e instanceof UsageError) {
        process.stderr.write(`usage error: ${e.message}\n`)
        process.exitCode = 1
      } else throw e
    }
  })

export const opt = <A>(o: Option.Option<A>): A | undefined => Option.getOrUndefined(o)
