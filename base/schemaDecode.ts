import { Schema } from "effect"
import { InputError } from "./errors.ts"

/**
 * Decode `value` with `schema`, reporting every problem at once as an InputError that names
 * the file and each offending path.
 */
export function decodeOrThrow<S extends Schema.ConstraintDecoder<unknown>>(
  schema: S,
  value: unknown,
  file: string,
  record = "document"
): S["Type"] {
  try {
    return Schema.decodeUnknownSync(schema)(value, { errors: "all", onExcessProperty: "error" })
  } catch (e) {
    const lines = String((e as Error).message).split("\n")
    const paths = lines.filter((l) => l.trim().startsWith("at ")).map((l) => l.trim().slice(3))
    throw new InputError(file, record, paths.join(", ") || "(root)", lines.join("; "))
  }
}
