import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from "node:fs"
import { dirname, basename, join } from "node:path"

/** Write a file so that readers see the old content or the whole new one, never a part. */
export function writeFileAtomic(path: string, data: string | Uint8Array | ReadonlyArray<Uint8Array>): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`)
  const fd = openSync(tmp, "w")
  try {
    const parts = typeof data === "string" || data instanceof Uint8Array ? [data] : data
    for (const part of parts) {
      if (typeof part === "string") writeSync(fd, part)
      else {
        let off = 0
        while (off < part.length) off += writeSync(fd, part, off, part.length - off)
      }
    }
    fsyncSync(fd)
  } catch (e) {
    closeSync(fd)
    rmSync(tmp, { force: true })
    throw e
  }
  closeSync(fd)
  renameSync(tmp, path)
}
