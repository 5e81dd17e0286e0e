/**
 * An ideal GPU that runs a plan with the simulator's timing model: streams execute in order,
 * waits hold a stream until the event's time, every op takes exactly the modelled time. Running a
 * plan here must reproduce the simulator's timeline to the nanosecond; a test checks that, which
 * proves the plan keeps every dependency the engine assumed. (It is not a GPU stand-in for
 * measurements: those come only from the CUDA runner.)
 */
import type { TimingModel } from "../sim/timing.ts"
import type { Plan } from "./plan.ts"

/** Time of every event, in ns since t0. */
export function runOnVirtualGpu(plan: Plan, timing: TimingModel): Float64Array {
  const clock: Record<string, number> = {}
  const at = new Float64Array(plan.events)
  for (const a of plan.actions) {
    switch (a.kind) {
      case "record":
        at[a.event] = clock[a.stream] ?? 0
        break
      case "wait":
        clock[a.stream] = Math.max(clock[a.stream] ?? 0, at[a.event]!)
        break
      case "layer":
        clock.compute = (clock.compute ?? 0) + timing.layerNs(a.tokens)
        break
      case "copy":
        clock[a.stream] = (clock[a.stream] ?? 0) + timing.transferNs
        break
      case "ffn":
        clock.compute = (clock.compute ?? 0) + timing.expertNs(a.tokens)
        break
    }
  }
  return at
}
