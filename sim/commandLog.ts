/**
 * What the engine decided, as commands an executor can carry out: the non-expert part of each
 * layer, every H2D copy (which slot, issued at which layer's gate, in the order the copy engine
 * started them) and every expert FFN. Each carries its simulated start time, so an executor can
 * issue them in simulated order and compare its own clock with the simulator's.
 */
export type Command =
  | { readonly kind: "layer"; readonly t: number; readonly flat: number; readonly tokens: number }
  /** `after`: index (in `commands`) of the compute command that had finished when the copy was issued (−1: before
   * any). */
  | {
      readonly kind: "copy"
      readonly t: number
      readonly key: number
      readonly slot: number
      readonly demand: boolean
      readonly after: number
      readonly engine: number
    }
  | {
      readonly kind: "ffn"
      readonly t: number
      readonly key: number
      readonly slot: number
      readonly tokens: number
      readonly flat: number
    }

export interface CommandLog {
  readonly commands: Command[]
  /** Experts placed in slots before the run (static pinning at step 0): [key, slot]. */
  readonly preloaded: Array<[number, number]>
}

/** Commands in simulated start order; ties keep recording order (a stable sort). */
export const inTimeOrder = (log: CommandLog): Command[] =>
  log.commands
    .map((c, i) => [c, i] as const)
    .sort((a, b) => a[0].t - b[0].t || a[1] - b[1])
    .map(([c]) => c)
