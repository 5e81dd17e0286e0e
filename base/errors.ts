/**
 * Errors that reach the user. `InputError` is bad input (exit 2): it names the file, the
 * record (line, token, cell...) and the field, so the user can fix the data without guessing.
 */
export class InputError extends Error {
  readonly _tag = "InputError"
  constructor(
    readonly file: string,
    readonly record: string,
    readonly field: string,
    readonly detail: string
  ) {
    super(`${file}: ${record}: field '${field}': ${detail}`)
  }
}

/** A command used wrongly (exit 1): bad flag combination, unknown policy option... */
export class UsageError extends Error {
  readonly _tag = "UsageError"
}
