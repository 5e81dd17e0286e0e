/**
 * A package loaded on first use (vega, onnxruntime-node): `direct` (a literal import(), which a
 * bundler can follow), or where the CLI runs as a script from V8's code cache (base/codeCache.mjs),
 * the launcher's own import() of `specifier`: there Node 20 gives import() no loader. Both resolve
 * from this package.
 */
const LENT_IMPORT = Symbol.for("expertflow.import")

export function importModule<T>(specifier: string, direct: () => Promise<T>): Promise<T> {
  const lent = (globalThis as { [LENT_IMPORT]?: (s: string) => Promise<T> })[LENT_IMPORT]
  return lent ? lent(specifier) : direct()
}
