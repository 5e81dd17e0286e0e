/**
 * Reading a file the user named: a missing path, a folder or an unreadable file is bad input
 * (exit 2) that names the path, never an anonymous system error.
 */
import { readFileSync, statSync } from "node:fs"
import { InputError } from "./errors.ts"

/** A path that names a file (not a folder): else bad input naming it. */
export function requireFile(path: string): void {
  let isDir = false
  try {
    isDir = statSync(path).isDirectory()
  } catch {
    throw new InputError(path, "file", "path", "no such file")
  }
  if (isDir) throw new InputError(path, "file", "path", "is a folder, not a file")
}

export function readInput(path: string): Buffer
export function readInput(path: string, encoding: "utf8"): string
export function readInput(path: string, encoding?: "utf8"): Buffer | string {
  requireFile(path)
  try {
    return encoding ? readFileSync(path, encoding) : readFileSync(path)
  } catch (e) {
    throw new InputError(path, "file", "path", `cannot read: ${(e as Error).message}`)
  }
}
