/**
 * Atomic file writes. Plain JavaScript so that base/bundleCache.mjs, which runs before any
 * TypeScript loads, uses the same code as the rest of the tool (types in atomicWrite.d.mts).
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from "node:fs"
import { dirname, basename, join } from "node:path"

/**
 * Write `path` through a temporary file in the same folder, renamed into place only when `write`
 * succeeded: readers see the old content or the whole new one, never a part, and a failure
 * leaves nothing behind.
 * @param {string} path
 * @param {(fd: number) => void} write
 */
export function writeViaTemp(path, write) {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`)
  const fd = openSync(tmp, "w")
  try {
    write(fd)
    fsyncSync(fd)
  } catch (e) {
    closeSync(fd)
    rmSync(tmp, { force: true })
    throw e
  }
  closeSync(fd)
  renameSync(tmp, path)
}

/**
 * Write a file atomically (see writeViaTemp).
 * @param {string} path
 * @param {string | Uint8Array | ReadonlyArray<Uint8Array>} data
 */
export function writeFileAtomic(path, data) {
  writeViaTemp(path, (fd) => {
    const parts = typeof data === "string" || data instanceof Uint8Array ? [data] : data
    for (const part of parts) {
      if (typeof part === "string") writeSync(fd, part)
      else {
        let off = 0
        while (off < part.length) off += writeSync(fd, part, off, part.length - off)
      }
    }
  })
}
