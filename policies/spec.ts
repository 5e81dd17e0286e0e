/**
 * Policy spec strings: comma-separated `key=value[:arg[:arg]]` parts, e.g.
 *   cache=lru
 *   cache=belady
 *   cache=lru,prefetch=fixed:2,predictor=transition,top=4
 *   cache=two-level-lru,prefetch=adaptive:mass=0.9:window=8,predictor=hybrid,order=resident-first
 * Arguments are positional (`fixed:2`) or named (`adaptive:mass=0.9`). The text is kept verbatim
 * in results and reports; parsing only checks and splits it.
 */
import { UsageError } from "../base/errors.ts"

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
  /** Expert FFN order within a layer: as the router listed them, or resident experts first. */
  readonly order: "as-listed" | "resident-first"
  /** Cache layout, when the spec fixes it (else the command line's --per-layer decides). */
  readonly layout: "unified" | "per-layer" | null
  readonly scheduler: string
  readonly schedulerArgs: ReadonlyArray<string>
  /** Cache accounting (traces/trace.ts Accounting); null: the trace's recording engine's, else the default. */
  readonly evict: "insert" | "batch" | null
  readonly duplicates: "first" | "refresh" | null
  readonly prefill: "chunk" | "token" | null
}

const KEYS = [
  "cache",
  "prefetch",
  "predictor",
  "top",
  "order",
  "layout",
  "scheduler",
  "evict",
  "dup",
  "prefill"
] as const

/** One of `allowed`, or null when the key is absent. */
function choice<T extends string>(
  text: string,
  key: string,
  value: string | undefined,
  allowed: readonly T[]
): T | null {
  if (value === undefined) return null
  if (!(allowed as readonly string[]).includes(value))
    throw new UsageError(`policy spec '${text}': ${key} must be ${allowed.join(" or ")}`)
  return value as T
}

export function parsePolicySpec(text: string): PolicySpec {
  const parts = new Map<string, string[]>()
  for (const raw of text.split(",")) {
    const part = raw.trim()
    const eq = part.indexOf("=")
    if (eq <= 0) throw new UsageError(`policy spec '${text}': part '${part}' is not key=value`)
    const key = part.slice(0, eq)
    if (!(KEYS as readonly string[]).includes(key))
      throw new UsageError(`policy spec '${text}': unknown key '${key}' (known: ${KEYS.join(", ")})`)
    if (parts.has(key)) throw new UsageError(`policy spec '${text}': '${key}' given twice`)
    parts.set(key, part.slice(eq + 1).split(":"))
  }
  const cache = parts.get("cache")
  if (!cache) throw new UsageError(`policy spec '${text}': cache=... is required (e.g. cache=lru)`)
  const prefetch = parts.get("prefetch") ?? ["none"]
  const predictor = parts.get("predictor") ?? null
  const scheduler = parts.get("scheduler") ?? ["none"]
  const topText = parts.get("top")?.[0]
  const top = topText === undefined ? 0 : Number(topText)
  if (!Number.isInteger(top) || top < 0)
    throw new UsageError(`policy spec '${text}': top must be a non-negative integer`)
  const order = parts.get("order")?.[0] ?? "as-listed"
  if (order !== "as-listed" && order !== "resident-first")
    throw new UsageError(`policy spec '${text}': order must be as-listed or resident-first`)
  const layout = parts.get("layout")?.[0] ?? null
  if (layout !== null && layout !== "unified" && layout !== "per-layer")
    throw new UsageError(`policy spec '${text}': layout must be unified or per-layer`)
  return {
    text: text.trim(),
    cache: cache[0]!,
    cacheArgs: cache.slice(1),
    prefetch: prefetch[0]!,
    prefetchArgs: prefetch.slice(1),
    predictor: predictor ? predictor[0]! : null,
    predictorArgs: predictor ? predictor.slice(1) : [],
    top,
    order,
    layout,
    scheduler: scheduler[0]!,
    schedulerArgs: scheduler.slice(1),
    evict: choice(text, "evict", parts.get("evict")?.[0], ["insert", "batch"] as const),
    duplicates: choice(text, "dup", parts.get("dup")?.[0], ["first", "refresh"] as const),
    prefill: choice(text, "prefill", parts.get("prefill")?.[0], ["chunk", "token"] as const)
  }
}

/**
 * Named numeric arguments (`name=value`) with defaults; a bare number fills the first name.
 * Unknown names and non-numbers are usage errors naming the spec.
 */
export function numericArgs<T extends Record<string, number>>(
  args: ReadonlyArray<string>,
  defaults: T,
  where: string
): T {
  const out: Record<string, number> = { ...defaults }
  const names = Object.keys(defaults)
  args.forEach((arg, i) => {
    const eq = arg.indexOf("=")
    const name = eq < 0 ? names[i] : arg.slice(0, eq)
    const value = Number(eq < 0 ? arg : arg.slice(eq + 1))
    if (name === undefined || !(name in defaults))
      throw new UsageError(`${where}: unknown argument '${arg}' (known: ${names.join(", ")})`)
    if (!Number.isFinite(value)) throw new UsageError(`${where}: argument '${arg}' is not a number`)
    out[name] = value
  })
  return out as T
}
