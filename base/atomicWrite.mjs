/**
 * Writes that respect their target. Plain JavaScript so that base/bundleCache.mjs, which runs
 * before any TypeScript loads, uses the same code as the rest of the tool (types in
 * atomicWrite.d.mts).
 *   - a regular file, or a path that does not exist yet: written through a temporary file in the
 *     same folder and renamed into place, so readers see the old content or the whole new one;
 *   - "-": standard output;
 *   - a character device, FIFO or socket (/dev/null, /dev/stdout, a pipe) or a symlink: opened and
 *     written in place, never replaced (a symlink keeps pointing where it pointed);
 *   - a missing folder: an error naming it (code ENOENT, `path` = the folder).
 * Temporary files are removed on failure and when the process is stopped by SIGINT or SIGTERM.
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  lstatSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeSync
} from "node:fs"
import { basename, dirname, join, resolve } from "node:path"

/** Temporary files being written now: removed if the process is interrupted. */
const live = new Set()
let hooked = false

function removeLiveOnSignals() {
  if (hooked) return
  hooked = true
  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.on(signal, function onSignal() {
      for (const tmp of live) rmSync(tmp, { force: true })
      live.clear()
      // Die of the signal as if no handler were here, unless another part of the tool handles it.
      if (process.listenerCount(signal) === 1) {
        process.removeListener(signal, onSignal)
        process.kill(process.pid, signal)
      }
    })
  }
}

/** A folder that must exist before writing into it. */
function requireFolder(path) {
  const dir = dirname(resolve(path))
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    const e = new Error(`${path}: the folder ${dir} does not exist`)
    Object.assign(e, { code: "ENOENT", path: dir })
    throw e
  }
}

/** Is `path` something to write in place (a device, FIFO, socket, or a symlink), rather than replace? */
function inPlace(path) {
  if (!existsSync(path) && !isDanglingLink(path)) return false
  const l = lstatSync(path)
  if (l.isSymbolicLink()) return true
  return !l.isFile() && !l.isDirectory()
}
const isDanglingLink = (path) => {
  try {
    return lstatSync(path).isSymbolicLink()
  } catch {
    return false
  }
}

/** Where `path` is written: "-" (stdout), in place (devices, FIFOs, symlinks), or through a temp file. */
function targetOf(path) {
  if (path === "-") return { kind: "stdout" }
  if (inPlace(path)) return { kind: "in-place" }
  requireFolder(path)
  if (existsSync(path) && statSync(path).isDirectory()) {
    const e = new Error(`${path} is a folder, not a file`)
    Object.assign(e, { code: "EISDIR", path })
    throw e
  }
  removeStaleTemps(path)
  removeLiveOnSignals()
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`)
  try {
    return { kind: "temp", tmp, fd: openSync(tmp, "w") }
  } catch (e) {
    // Name the file the user asked for, not our temporary one.
    Object.assign(e, { path })
    throw e
  }
}

/** Temp files of `path` left by a process that died without cleaning up (kill -9). */
function removeStaleTemps(path) {
  const prefix = `.${basename(path)}.`
  for (const name of readdirSync(dirname(path))) {
    if (!name.startsWith(prefix) || !name.endsWith(".tmp")) continue
    const pid = Number(name.slice(prefix.length, -4))
    if (!Number.isInteger(pid) || pid === process.pid) continue
    try {
      process.kill(pid, 0)
    } catch (e) {
      if (e.code === "ESRCH") rmSync(join(dirname(path), name), { force: true })
    }
  }
}

function finish(t, path, failed) {
  if (t.kind !== "temp") return
  try {
    if (!failed) fsyncSync(t.fd)
    closeSync(t.fd)
    if (!failed) renameSync(t.tmp, path)
  } finally {
    if (failed || existsSync(t.tmp)) rmSync(t.tmp, { force: true })
    live.delete(t.tmp)
  }
}

function open(path) {
  const t = targetOf(path)
  if (t.kind === "temp") live.add(t.tmp)
  const fd = t.kind === "stdout" ? 1 : t.kind === "in-place" ? openSync(path, "w") : t.fd
  return { t, fd }
}

/**
 * Write `path` (see the rules above); `write(fd)` writes the content. A directory at `path` is an
 * error (EISDIR), as is a missing folder.
 * @param {string} path
 * @param {(fd: number) => void} write
 */
export function writeViaTemp(path, write) {
  const { t, fd } = open(path)
  try {
    write(fd)
  } catch (e) {
    if (t.kind === "in-place") closeSync(fd)
    finish(t, path, true)
    throw e
  }
  if (t.kind === "in-place") closeSync(fd)
  finish(t, path, false)
}

/**
 * `writeViaTemp` for long writes that yield to the event loop (trace gen): an interrupt then stops
 * the process mid-way and its temporary file is removed.
 * @param {string} path
 * @param {(fd: number) => Promise<void>} write
 */
export async function writeViaTempAsync(path, write) {
  const { t, fd } = open(path)
  try {
    await write(fd)
  } catch (e) {
    if (t.kind === "in-place") closeSync(fd)
    finish(t, path, true)
    throw e
  }
  if (t.kind === "in-place") closeSync(fd)
  finish(t, path, false)
}

/**
 * Write a whole file (see writeViaTemp).
 * @param {string} path
 * @param {string | Uint8Array | ReadonlyArray<Uint8Array>} data
 */
export function writeFileAtomic(path, data) {
  writeViaTemp(path, (fd) => {
    const parts = typeof data === "string" || data instanceof Uint8Array ? [data] : data
    for (const part of parts) {
      const bytes = typeof part === "string" ? Buffer.from(part) : part
      let off = 0
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off)
    }
  })
}
