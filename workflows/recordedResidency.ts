/**
 * A recorded verdict as a test oracle (DESIGN.md): a route trace says, row by row, whether the
 * engine's cache held each routed expert. A replay under that engine's accounting must say the
 * same; a row's simulated verdict is its lookup's (traces/residency.ts).
 */
import type { AccessStream } from "../traces/batching.ts"
import { forEachRow, recordedHitRate } from "../traces/residency.ts"
import type { Trace } from "../traces/trace.ts"
import type { ResultRecord } from "../sim/result.ts"

type Agreement = NonNullable<ResultRecord["recorded_residency"]>

/** Rows listed in the record when not all are asked for. */
const FIRST_DIFFERENCES = 10

export function residencyAgreement(t: Trace, a: AccessStream, hitOfAccess: Uint8Array, listAll: boolean): Agreement {
  const recorded = t.residency!
  const K = t.model.topK
  let rows = 0,
    agreeing = 0
  const differing: Agreement["differing"] = []
  forEachRow(t, a, (row, i, token, layer) => {
    rows++
    const simulated = hitOfAccess[i]!
    if (simulated === recorded[row]) agreeing++
    else if (listAll || differing.length < FIRST_DIFFERENCES)
      differing.push({
        token,
        request: t.request[token]!,
        position: t.position[token]!,
        layer,
        rank: row % K,
        expert: t.experts[row]!,
        recorded: recorded[row]!,
        simulated
      })
  })
  return {
    rows,
    agreeing_rows: agreeing,
    agreement: rows > 0 ? Math.round((agreeing / rows) * 1e9) / 1e9 : 0,
    recorded_hit_rate: recordedHitRate(t, a),
    differing
  }
}
