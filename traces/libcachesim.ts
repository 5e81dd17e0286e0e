/**
 * libCacheSim CSV: one row per access in the order request → token → layer → expert as listed,
 * key = layer · E + expert, size 1. Replay it with
 *   cachesim trace.csv csv lru,belady 64 -t "time-col=1,obj-id-col=2,obj-size-col=3,has-header=true" --ignore-obj-size
 * 1
 * Gaps produce no rows.
 */
import type { Trace } from "./trace.ts"

export function toLibCacheSimCsv(t: Trace): string[] {
  const { layers: L, experts: E, topK: K } = t.model
  const chunks: string[] = ["time,obj_id,obj_size\n"]
  let n = 0
  let buf = ""
  for (let i = 0; i < t.tokens; i++) {
    for (let l = 0; l < L; l++) {
      const cell = i * L + l
      if (!t.present[cell]) continue
      for (let k = 0; k < K; k++) buf += `${n++},${l * E + t.experts[cell * K + k]!},1\n`
    }
    if (buf.length > 1 << 20) {
      chunks.push(buf)
      buf = ""
    }
  }
  chunks.push(buf)
  return chunks
}
