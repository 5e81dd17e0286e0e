/**
 * Errors that reach the user, and the exit codes they end in (the CLI's one error path,
 * cli/action.ts, maps every failure to one of these and prints one line on stderr):
 *   0 ok · 1 usage · 2 bad input · 3 regression found (check) · 4 environment (no GPU, a
 *   library missing) · 70 internal error (the stack with --verbose).
 */
export const EXIT = { ok: 0, usage: 1, input: 2, regression: 3, environment: 4, internal: 70 } as const

/**
 * Bad input (exit 2): it names the file, the record (line, token, cell...) and the field, so the
 * user can fix the data without guessing.
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

/** The machine cannot do what was asked (exit 4): no GPU or driver, a library missing. */
export class EnvironmentError extends Error {
  readonly _tag = "EnvironmentError"
}
