/**
 * The edge between effect/cli and the plain-TypeScript core: run a handler, print its output,
 * and turn known errors into the documented exit codes (1 usage, 2 bad input) with one clear line.
 */
import { Effect, Option } from "effect"
import { InputError, UsageError } from "../sim/errors.ts"

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

/** "20GiB", "512MB", "1e9" → bytes. */
export function parseBytes(text: string): number {
  const m = /^\s*([0-9.eE+]+)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?\s*$/.exec(text)
  const unit: Record<string, number> = { B: 1, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12, KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30, TiB: 2 ** 40 }
  const v = m ? Number(m[1]) * unit[m[2] ?? "B"]! : NaN
  if (!Number.isFinite(v) || v <= 0) throw new UsageError(`'${text}' is not a byte size (e.g. 20GiB, 512MB, 1000000)`)
  return Math.floor(v)
}
