/**
 * From event times back to the simulator's vocabulary: a timeline (same tracks and names) and the
 * time fields of a result record. Stall = time the compute stream sat idle between its first and
 * last op (it only ever waits for expert weights).
 */
import { Timeline, TRACK_COMPUTE, TRACK_COPY0, TRACK_STALL } from "../sim/timeline.ts"
import type { Plan } from "./plan.ts"

export interface Measured {
  totalNs: number
  computeNs: number
  stallNs: number
  linkBusyNs: number
  transfers: number
  timeline: Timeline
}

export function measure(plan: Plan, eventNs: Float64Array, layers: number, experts: number): Measured {
  const tl = new Timeline()
  const label = (key: number) => `L${Math.floor(key / experts)} E${key % experts}`
  let computeNs = 0,
    linkBusyNs = 0,
    transfers = 0,
    lastComputeEnd = 0
  const ns = (e: number) => Math.round(eventNs[e]! - eventNs[plan.t0]!)
  for (const op of plan.ops) {
    const start = ns(op.start),
      end = ns(op.end)
    const c = op.command
    if (c.kind === "copy") {
      transfers++
      linkBusyNs += end - start
      tl.add(TRACK_COPY0, `H2D ${label(c.key)}`, c.demand ? "demand" : "prefetch", start, end)
      continue
    }
    if (start > lastComputeEnd)
      tl.add(TRACK_STALL, c.kind === "ffn" ? `wait ${label(c.key)}` : "wait", "stall", lastComputeEnd, start)
    computeNs += end - start
    lastComputeEnd = Math.max(lastComputeEnd, end)
    if (c.kind === "layer") tl.add(TRACK_COMPUTE, `L${c.flat % layers} attention+router`, "non-expert", start, end)
    else tl.add(TRACK_COMPUTE, `${label(c.key)} FFN`, "expert", start, end, { tokens: c.tokens })
  }
  return {
    totalNs: lastComputeEnd,
    computeNs,
    stallNs: lastComputeEnd - computeNs,
    linkBusyNs,
    transfers,
    timeline: tl
  }
}
