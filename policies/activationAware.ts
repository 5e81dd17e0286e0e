/**
 * MoE-Infinity-style activation-aware prediction (arXiv 2401.14361): each training request
 * leaves an expert activation matrix (EAM: layers × experts, how often each expert served the
 * request). At run time, each request in the step keeps its own EAM of what it used so far; the
 * library EAM with the highest cosine similarity to it is taken as the request's likely future,
 * and its most used experts at the target layer are predicted (top-k per request, union over
 * the step). A request with no history yet matches the library's average.
 */
import { GAP } from "../traces/trace.ts"
import { topByScore, type Predictor, type PredictorContext } from "./predictor.ts"
import { sliceTokens } from "./training.ts"
import { stepOfToken } from "./routePath.ts"

export function activationAwarePredictor(ctx: PredictorContext): Predictor {
  const t = ctx.trace,
    a = ctx.stream
  const { layers: L, experts: E, topK: K } = t.model
  const LE = L * E
  const n = ctx.top > 0 ? ctx.top : K
  // The library, per fold: one normalized EAM per training request, plus their mean.
  const libraries = ctx.training.folds.map((slices) => {
    const byRequest = new Map<string, Float64Array>()
    for (const slice of slices)
      for (const ti of sliceTokens(slice)) {
        const id = `${slice.trace === t ? "self" : "train"}:${slice.trace.request[ti]}`
        let m = byRequest.get(id)
        if (!m) {
          m = new Float64Array(LE)
          byRequest.set(id, m)
        }
        addToken(slice.trace, ti, m)
      }
    const counts = [...byRequest.values()]
    const norms = counts.map(norm)
    const eams = counts.map((m, c) => m.map((x) => x / norms[c]!))
    const mean = new Float64Array(LE)
    for (const m of eams) for (let i = 0; i < LE; i++) mean[i]! += m[i]!
    // The counts entry-major (entry i's counts for every EAM side by side) for the exact dots.
    const byEntry = new Float64Array(LE * counts.length)
    counts.forEach((m, c) => {
      for (let i = 0; i < LE; i++) byEntry[i * counts.length + c] = m[i]!
    })
    return { byEntry, norms, eams, mean }
  })
  type Library = (typeof libraries)[number]
  const stepOf = stepOfToken(ctx)
  // Each request's own EAM, built from its tokens in steps before the current one, the tokens
  // added so far, and per fold its exact integer dot product with each library EAM's counts.
  interface Own {
    eam: Float64Array
    tokens: number[]
    dots: Array<{ exact: Float64Array; applied: number } | undefined>
  }
  const own = new Map<number, Own>()
  let builtUpTo = 0
  let maxRequest = 0
  for (let i = 0; i < t.request.length; i++) maxRequest = Math.max(maxRequest, t.request[i]!)
  /** By step · (maxRequest + 1) + request: the library EAM the request matched at that step. */
  const match = new Map<number, Float64Array>()
  // A library EAM's top-n experts per layer, listed once: a prediction is then a union of lists.
  const tops = new Map<Float64Array, { picks: Uint16Array; counts: Uint16Array }>()
  const mark = new Uint8Array(E)
  /** A token's entries' offsets into a library's byEntry (bestMatch's scratch). */
  const rows = new Int32Array(L * K)

  function addToken(tr: typeof t, ti: number, m: Float64Array): void {
    for (let l = 0; l < L; l++)
      for (let k = 0; k < K; k++) {
        const e = tr.experts[(ti * L + l) * K + k]!
        if (e !== GAP) m[l * E + e]!++
      }
  }
  function norm(m: Float64Array): number {
    let sq = 0
    for (let i = 0; i < m.length; i++) sq += m[i]! * m[i]!
    return Math.sqrt(sq) || 1
  }
  /**
   * The library EAM the request's EAM matches: the first with the largest float dot product (the
   * unit EAM · the request's counts, summed in index order). Each candidate's exact integer dot
   * with the raw counts, kept up to date token by token, divided by the candidate's norm, is
   * within (n + 2)·2^-53 of that float sum (relative, n = L·E nonnegative terms); only the
   * candidates within a wider margin of the best are summed in float to settle the match.
   */
  function bestMatch(lib: Library, fold: number, mine: Own): Float64Array {
    let st = mine.dots[fold]
    if (!st) {
      st = { exact: new Float64Array(lib.eams.length), applied: 0 }
      mine.dots[fold] = st
    }
    const exact = st.exact,
      byEntry = lib.byEntry,
      C = exact.length
    for (; st.applied < mine.tokens.length; st.applied++) {
      const ti = mine.tokens[st.applied]!
      // The token's entries first, then per candidate one sum over them in a register (integers:
      // any order is exact), not an add through memory per entry.
      let m = 0
      for (let l = 0; l < L; l++)
        for (let k = 0; k < K; k++) {
          const e = t.experts[(ti * L + l) * K + k]!
          if (e !== GAP) rows[m++] = (l * E + e) * C
        }
      let c = 0
      for (; c + 3 < C; c += 4) {
        let s0 = 0,
          s1 = 0,
          s2 = 0,
          s3 = 0
        for (let j = 0; j < m; j++) {
          const i = rows[j]! + c
          s0 += byEntry[i]!
          s1 += byEntry[i + 1]!
          s2 += byEntry[i + 2]!
          s3 += byEntry[i + 3]!
        }
        exact[c]! += s0
        exact[c + 1]! += s1
        exact[c + 2]! += s2
        exact[c + 3]! += s3
      }
      for (; c < C; c++) {
        let s = 0
        for (let j = 0; j < m; j++) s += byEntry[rows[j]! + c]!
        exact[c]! += s
      }
    }
    let max = 0
    let safe = true
    for (let c = 0; c < exact.length; c++) {
      safe &&= exact[c]! <= Number.MAX_SAFE_INTEGER
      max = Math.max(max, exact[c]! / lib.norms[c]!)
    }
    const floor = safe ? max * (1 - (LE + 8) * 2 ** -50) : -1
    let near = 0,
      at = 0
    for (let c = exact.length - 1; c >= 0; c--)
      if (exact[c]! / lib.norms[c]! >= floor) {
        near++
        at = c
      }
    if (near === 1) return lib.eams[at]!
    let best = -1
    for (let c = 0; c < exact.length; c++) {
      if (!(exact[c]! / lib.norms[c]! >= floor)) continue
      const d = dotProduct(lib.eams[c]!, mine.eam)
      if (d > best) {
        best = d
        at = c
      }
    }
    return lib.eams[at]!
  }
  const matched = (step: number, request: number): Float64Array => {
    const key = step * (maxRequest + 1) + request
    let m = match.get(key)
    if (m) return m
    const fold = ctx.training.foldOf(step)
    const lib = libraries[fold]!
    const mine = own.get(request)
    m = mine && lib.eams.length > 0 ? bestMatch(lib, fold, mine) : lib.mean
    match.set(key, m)
    return m
  }
  const topsOf = (m: Float64Array) => {
    let top = tops.get(m)
    if (!top) {
      top = { picks: new Uint16Array(L * n), counts: new Uint16Array(L) }
      for (let l = 0; l < L; l++)
        top.counts[l] = topByScore(m.subarray(l * E, (l + 1) * E), n, top.picks.subarray(l * n, (l + 1) * n))
      tops.set(m, top)
    }
    return top
  }
  return {
    name: "eam",
    predict(step, layer, curStep, _cl, out) {
      for (; builtUpTo < curStep; builtUpTo++) {
        for (let i = a.stepTokenOffsets[builtUpTo]!; i < a.stepTokenOffsets[builtUpTo + 1]!; i++) {
          const ti = a.stepTokens[i]!
          let m = own.get(t.request[ti]!)
          if (!m) {
            m = { eam: new Float64Array(LE), tokens: [], dots: [] }
            own.set(t.request[ti]!, m)
          }
          addToken(t, ti, m.eam)
          m.tokens.push(ti)
        }
      }
      let count = 0
      for (let i = a.stepTokenOffsets[step]!; i < a.stepTokenOffsets[step + 1]!; i++) {
        const ti = a.stepTokens[i]!
        if (stepOf[ti]! !== step) continue
        const { picks, counts } = topsOf(matched(step, t.request[ti]!))
        for (let j = layer * n; j < layer * n + counts[layer]!; j++)
          if (!mark[picks[j]!]) {
            mark[picks[j]!] = 1
            out[count++] = picks[j]!
          }
      }
      for (let j = 0; j < count; j++) mark[out[j]!] = 0
      return count
    }
  }
}

/** The dot product summed in index order. */
function dotProduct(a: Float64Array, b: Float64Array): number {
  let d = 0
  for (let i = 0; i < a.length; i++) d += a[i]! * b[i]!
  return d
}
