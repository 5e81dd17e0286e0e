import { describe, expect, it } from "@jest/globals"
import fc from "fast-check"
import { InputError } from "../base/errors.ts"
import { validateTrace } from "../traces/canonical.ts"
import { GAP, type Trace } from "../traces/trace.ts"
import { traceArb } from "./helpers/arbitraries.ts"

// validateTrace checks column by column and walks record by record only when something fails:
// every kind of bad record must still be caught, and named as the walk names it.

/** A random valid trace with every id column filled (lookahead depth 1, two predictions). */
const fullTraceArb = traceArb.map((t): Trace => {
  const { layers: L, experts: E, topK: K } = t.model
  const cells = t.tokens * L
  return {
    ...t,
    lookaheadDepth: 1,
    lookahead: Uint16Array.from({ length: cells * K }, (_, j) => (j % 5 === 4 ? GAP : (j * 7) % E)),
    predictionDepth: 2,
    predicted: Uint16Array.from({ length: cells * 2 }, (_, j) => (j % 3 === 2 ? GAP : (j * 3) % E))
  }
})

type Kind = "request" | "present" | "range" | "gap" | "twice" | "nan" | "negative" | "lookahead" | "predicted"
const KINDS: Kind[] = ["request", "present", "range", "gap", "twice", "nan", "negative", "lookahead", "predicted"]

/** Corrupt one record of a copy of `t`; the record and field validateTrace must name, or null if it can't apply. */
function corrupt(t: Trace, kind: Kind, pick: number): { bad: Trace; record: string; field: string } | null {
  const { layers: L, experts: E, topK: K } = t.model
  const copy = {
    ...t,
    request: t.request.slice(),
    present: t.present.slice(),
    experts: t.experts.slice(),
    weights: t.weights!.slice(),
    lookahead: t.lookahead!.slice(),
    predicted: t.predicted!.slice()
  }
  const presentCells = [...copy.present.keys()].filter((c) => copy.present[c] === 1)
  const cell = presentCells[pick % Math.max(1, presentCells.length)]
  const at = (c: number) => `token ${Math.floor(c / L)} layer ${c % L}`
  const k = pick % K
  switch (kind) {
    case "request": {
      // A request that comes back after another: its first token after the break.
      const i = [...copy.request.keys()].find((j) => j > 0 && copy.request[j] !== copy.request[j - 1])
      if (i === undefined) return null
      copy.request[copy.request.length - 1] = copy.request[0]!
      if (copy.request[copy.request.length - 2] === copy.request[0]) return null
      return { bad: copy, record: `token ${copy.request.length - 1}`, field: "request" }
    }
    case "present":
      copy.present[pick % copy.present.length] = 2
      return { bad: copy, record: at(pick % copy.present.length), field: "present" }
    case "lookahead":
      copy.lookahead[pick % copy.lookahead.length] = E + (pick % 3)
      return { bad: copy, record: at(Math.floor((pick % copy.lookahead.length) / K)), field: `lookahead[0][${k}]` }
    case "predicted":
      copy.predicted[pick % copy.predicted.length] = E
      return { bad: copy, record: at(Math.floor((pick % copy.predicted.length) / 2)), field: `predicted[${pick % 2}]` }
  }
  if (cell === undefined) return null
  const j = cell * K + k
  switch (kind) {
    case "range":
      copy.experts[j] = E
      break
    case "gap":
      copy.experts[j] = GAP
      break
    case "twice":
      if (K < 2) return null
      copy.experts[cell * K + ((k + 1) % K)] = copy.experts[j]!
      return { bad: copy, record: at(cell), field: `experts[${Math.max(k, (k + 1) % K)}]` }
    case "nan":
      copy.weights[j] = Number.NaN
      return { bad: copy, record: at(cell), field: `weights[${k}]` }
    case "negative":
      copy.weights[j] = -0.5
      return { bad: copy, record: at(cell), field: `weights[${k}]` }
  }
  return { bad: copy, record: at(cell), field: `experts[${k}]` }
}

describe("validateTrace", () => {
  it("passes every valid trace (fast-check)", () => {
    fc.assert(
      fc.property(fullTraceArb, (t) => {
        validateTrace(t, "t.eft")
      }),
      { numRuns: 200, seed: 20261202 }
    )
  })

  it("names the record and field of any one bad record (fast-check)", () => {
    fc.assert(
      fc.property(fullTraceArb, fc.constantFrom(...KINDS), fc.nat(10_000), (t, kind, pick) => {
        const c = corrupt(t, kind, pick)
        fc.pre(c !== null)
        let thrown: unknown = null
        try {
          validateTrace(c!.bad, "t.eft")
        } catch (e) {
          thrown = e
        }
        expect(thrown).toBeInstanceOf(InputError)
        expect([(thrown as InputError).record, (thrown as InputError).field]).toEqual([c!.record, c!.field])
      }),
      { numRuns: 600, seed: 20261202 }
    )
  })
})
