import fc from "fast-check"
import { tinyTrace } from "./fixtures.ts"

/** Random small traces: layers, experts, top-k, tokens, requests, routing. */
export const traceArb = fc
  .record({
    L: fc.integer({ min: 1, max: 4 }),
    E: fc.integer({ min: 2, max: 8 }),
    T: fc.integer({ min: 1, max: 30 }),
    R: fc.integer({ min: 1, max: 3 })
  })
  .chain(({ L, E, T, R }) =>
    fc.record({
      L: fc.constant(L),
      E: fc.constant(E),
      K: fc.integer({ min: 1, max: Math.min(3, E) }),
      requests: fc
        .array(fc.integer({ min: 0, max: R - 1 }), { minLength: T, maxLength: T })
        .map((r) => r.sort((a, b) => a - b)),
      seeds: fc.array(fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: L, maxLength: L }), {
        minLength: T,
        maxLength: T
      })
    })
  )
  .map(({ E, K, requests, seeds }) => {
    // Each (token, layer) gets K distinct experts from its seed.
    const routes = seeds.map((row) =>
      row.map((s) => {
        const ids = Array.from({ length: E }, (_, i) => i)
        for (let i = 0; i < K; i++) {
          const j = i + ((s * 7919 + i * 31) % (E - i))
          ;[ids[i], ids[j]] = [ids[j]!, ids[i]!]
        }
        return ids.slice(0, K)
      })
    )
    return tinyTrace(routes, E, requests)
  })
