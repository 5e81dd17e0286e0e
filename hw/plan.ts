/**
 * From the engine's decisions (a command log) to stream actions any executor can run: records and
 * waits on events, layer compute, copies, expert FFNs. Dependencies, all expressed as events:
 *   - a copy starts no earlier than the compute op after which the engine issued it (a layer's
 *     gate, or an expert's FFN for prefetchers that act as experts finish);
 *   - each copy engine is one stream; copies go to the engine the simulator gave them, in the
 *     order it started them (so demand loads ahead of queued prefetches, as decided by the
 *     simulator's queue: stream priorities do not order DMA on a copy engine, events do);
 *   - a copy into a slot waits for the previous copy into it and for the last FFN that read it;
 *   - an FFN waits for its expert's latest copy.
 * Waits on an event of the same stream are left out (stream order already implies them).
 */
import { inTimeOrder, type Command, type CommandLog } from "../sim/commandLog.ts"

/** "compute", or "copy<i>" for copy engine i. */
export type StreamId = string
export type Action =
  | { readonly kind: "record"; readonly stream: StreamId; readonly event: number }
  | { readonly kind: "wait"; readonly stream: StreamId; readonly event: number }
  | { readonly kind: "layer"; readonly stream: "compute"; readonly flat: number; readonly tokens: number }
  | {
      readonly kind: "copy"
      readonly stream: StreamId
      readonly key: number
      readonly slot: number
      readonly demand: boolean
    }
  | {
      readonly kind: "ffn"
      readonly stream: "compute"
      readonly key: number
      readonly slot: number
      readonly tokens: number
    }

export interface PlannedOp {
  readonly command: Command
  readonly start: number
  readonly end: number
}
export interface Plan {
  readonly actions: Action[]
  readonly events: number
  /** Event 0 is t0, recorded on the compute stream before anything else. */
  readonly t0: number
  readonly ops: PlannedOp[]
}

export function planExecution(log: CommandLog, copyEngines: number): Plan & { readonly copyStreams: string[] } {
  const actions: Action[] = []
  let events = 0
  const streamOf: StreamId[] = []
  const record = (stream: StreamId): number => {
    const e = events++
    streamOf[e] = stream
    actions.push({ kind: "record", stream, event: e })
    return e
  }
  const wait = (stream: StreamId, e: number | undefined) => {
    if (e !== undefined && streamOf[e] !== stream) actions.push({ kind: "wait", stream, event: e })
  }
  const copyStreams = Array.from({ length: copyEngines }, (_, i) => `copy${i}`)
  const t0 = record("compute")
  for (const s of copyStreams) wait(s, t0)
  const endOf = new Map<Command, number>()
  const lastCopyIntoSlot = new Map<number, number>(),
    lastFfnOnSlot = new Map<number, number>()
  const latestCopyOfKey = new Map<number, number>()
  const ops: PlannedOp[] = []
  for (const c of inTimeOrder(log)) {
    const after = c.kind === "copy" && c.after >= 0 ? log.commands[c.after]! : null
    if (c.kind === "layer") {
      const start = record("compute")
      actions.push({ kind: "layer", stream: "compute", flat: c.flat, tokens: c.tokens })
      const end = record("compute")
      endOf.set(c, end)
      ops.push({ command: c, start, end })
    } else if (c.kind === "copy") {
      const stream = `copy${c.engine}`
      if (after) wait(stream, endOf.get(after))
      wait(stream, lastCopyIntoSlot.get(c.slot))
      wait(stream, lastFfnOnSlot.get(c.slot))
      const start = record(stream)
      actions.push({ kind: "copy", stream, key: c.key, slot: c.slot, demand: c.demand })
      const end = record(stream)
      lastCopyIntoSlot.set(c.slot, end)
      latestCopyOfKey.set(c.key, end)
      ops.push({ command: c, start, end })
    } else {
      wait("compute", latestCopyOfKey.get(c.key))
      latestCopyOfKey.delete(c.key) // waited once; later FFNs of this copy need no new wait
      const start = record("compute")
      actions.push({ kind: "ffn", stream: "compute", key: c.key, slot: c.slot, tokens: c.tokens })
      const end = record("compute")
      endOf.set(c, end)
      lastFfnOnSlot.set(c.slot, end)
      ops.push({ command: c, start, end })
    }
  }
  return { actions, events, t0, ops, copyStreams }
}
