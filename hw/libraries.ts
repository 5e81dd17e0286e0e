/**
 * Where the CUDA libraries are looked for, in order (the first that loads wins):
 *   1. $CUDA_HOME/lib64, $CUDA_HOME/lib, $CUDA_PATH/lib64
 *   2. /usr/local/cuda/lib64, /usr/local/cuda/targets/x86_64-linux/lib, /usr/lib/x86_64-linux-gnu
 *   3. the Python wheels' nvidia/<pkg>/lib folders under every site-packages on $PYTHONPATH and
 *      the usual /usr/lib/python3*, /usr/local/lib/python3*, ~/.local (PyTorch's CUDA wheels)
 *   4. the dynamic loader's own search ($LD_LIBRARY_PATH, ldconfig), by bare file name
 * Every candidate tried is kept, so "not found" says exactly where it looked.
 */
import { spawnSync } from "node:child_process"
import { existsSync, readdirSync } from "node:fs"
import { homedir } from "node:os"
import { join } from "node:path"
import koffi, { type LibraryHandle } from "koffi"

export interface Loaded {
  readonly lib: LibraryHandle
  readonly path: string
  readonly tried: string[]
}

export class LibraryNotFound extends Error {
  readonly _tag = "LibraryNotFound"
  constructor(
    readonly library: string,
    readonly tried: string[]
  ) {
    super(`${library} not found; tried:\n  ${tried.join("\n  ")}`)
  }
}

let pythonSites: string[] | null = null
/** site-packages of the `python3` on PATH (pyenv, conda and venvs keep PyTorch's CUDA wheels there). */
function pythonSitePackages(): string[] {
  if (pythonSites === null) {
    const r = spawnSync(
      "python3",
      ["-c", "import site,sys; print('\\n'.join(site.getsitepackages()+[site.getusersitepackages()]))"],
      { encoding: "utf8", timeout: 5000 }
    )
    pythonSites = r.status === 0 ? r.stdout.split("\n").filter(Boolean) : []
  }
  return pythonSites
}

function siteDirs(): string[] {
  const roots = [...(process.env.PYTHONPATH ?? "").split(":").filter(Boolean), ...pythonSitePackages()]
  for (const base of ["/usr/lib", "/usr/local/lib", join(homedir(), ".local/lib"), "/opt/conda/lib"]) {
    if (!existsSync(base)) continue
    for (const d of readdirSync(base))
      if (/^python3/.test(d)) roots.push(join(base, d, "site-packages"), join(base, d, "dist-packages"))
  }
  return roots
}

export function candidateDirs(wheelPackage: string): string[] {
  const dirs: string[] = []
  for (const v of [process.env.CUDA_HOME, process.env.CUDA_PATH]) if (v) dirs.push(join(v, "lib64"), join(v, "lib"))
  dirs.push("/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib", "/usr/lib/x86_64-linux-gnu")
  for (const site of siteDirs()) dirs.push(join(site, "nvidia", wheelPackage, "lib"))
  return dirs
}

/** Load the first of `names` found in the search order; `wheelPackage` names its nvidia/* wheel. */
export function findLibrary(names: string[], wheelPackage: string): Loaded {
  const tried: string[] = []
  const paths = [...candidateDirs(wheelPackage).flatMap((d) => names.map((n) => join(d, n))), ...names]
  for (const path of paths) {
    if (path.includes("/") && !existsSync(path)) {
      tried.push(`${path}: absent`)
      continue
    }
    try {
      return { lib: koffi.load(path), path, tried }
    } catch (e) {
      tried.push(`${path}: ${(e as Error).message}`)
    }
  }
  throw new LibraryNotFound(names[0]!, tried)
}
