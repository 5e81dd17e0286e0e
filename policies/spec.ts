/**
 * Policy spec strings: comma-separated `key=value[:arg[:arg]]` parts, e.g.
 *   cache=lru
 *   cache=belady
 *   cache=lru,prefetch=fixed:2,predictor=transition,top=4
 * The text is kept verbatim in results and reports; parsing only checks and splits it.
 */
import { UsageError } from "../sim/errors.ts"

export interface PolicySpec {
  readonly text: string
  readonly cache: string
  readonly cacheArgs: ReadonlyArray<string>
  readonly prefetch: string
  readonly prefetchArgs: ReadonlyArray<string>
  readonly predictor: string | null
  readonly predictorArgs: ReadonlyArray<string>
  /** Experts a scoring predictor names per target; 0 = top-k per token of the step. */
  readonly top: number
}

const KEYS = ["cache", "prefetch", "predictor", "top"] as const

export function parsePolicySpec(text: string): PolicySpec {
  const parts = new Map<string, string[]>()
  for (const raw of text.split(",")) {
    const part = raw.trim()
    const eq = part.indexOf("=")
    if (eq <= 0) throw new UsageError(`policy spec '${text}': part '${part}' is not key=value`)
    const key = part.slice(0, eq)
    if (!(KEYS as readonly string[]).includes(key)) throw new UsageError(`policy spec '${text}': unknown key '${key}' (known: ${KEYS.join(", ")})`)
    if (parts.has(key)) throw new UsageError(`policy spec '${text}': '${key}' given twice`)
    parts.set(key, part.slice(eq + 1).split(":"))
  }
  const cache = parts.get("cache")
  if (!cache) throw new UsageError(`policy spec '${text}': cache=... is required (e.g. cache=lru)`)
  const prefetch = parts.get("prefetch") ?? ["none"]
  const predictor = parts.get("predictor") ?? null
  const topText = parts.get("top")?.[0]
  const top = topText === undefined ? 0 : Number(topText)
  if (!Number.isInteger(top) || top < 0) throw new UsageError(`policy spec '${text}': top must be a non-negative integer`)
  return {
    text: text.trim(),
    cache: cache[0]!, cacheArgs: cache.slice(1),
    prefetch: prefetch[0]!, prefetchArgs: prefetch.slice(1),
    predictor: predictor ? predictor[0]! : null, predictorArgs: predictor ? predictor.slice(1) : [],
    top
  }
}
