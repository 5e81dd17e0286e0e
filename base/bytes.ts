import { UsageError } from "./errors.ts"

/** "20GiB", "512MB", "1e9" → bytes. */
export function parseBytes(text: string | number): number {
  if (typeof text === "number") return text
  const m = /^\s*([0-9.eE+]+)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?\s*$/.exec(text)
  const unit: Record<string, number> = {
    B: 1,
    KB: 1e3,
    MB: 1e6,
    GB: 1e9,
    TB: 1e12,
    KiB: 2 ** 10,
    MiB: 2 ** 20,
    GiB: 2 ** 30,
    TiB: 2 ** 40
  }
  const v = m ? Number(m[1]) * unit[m[2] ?? "B"]! : NaN
  if (!Number.isFinite(v) || v <= 0) throw new UsageError(`'${text}' is not a byte size (e.g. 20GiB, 512MB, 1000000)`)
  return Math.floor(v)
}
