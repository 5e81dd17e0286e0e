/**
 * The timed replay: the one event loop. Per step (after an optional host-side charge, e.g. a
 * token scheduler's CPU time, and the prefetcher's step-start hook), per layer:
 *   1. the non-expert part (attention, router, shared experts) runs on the compute stream;
 *   2. at the gate, each needed expert is a hit (resident), a late hit (on its way: a queued
 *      prefetch is promoted to demand priority) or a miss (a demand load is queued ahead of all
 *      unstarted prefetches); needed experts are pinned;
 *   3. the prefetcher may queue loads for later layers (after the demand loads, same instant);
 *   4. expert FFNs run in access order, or resident experts first (cache-aware reordering); each
 *      waits for its expert's arrival (that wait is stall) and unpins its expert when done.
 * Slots: a load takes a free slot of its group, else evicts the policy's victim among resident,
 * unpinned experts (a prefetch never takes a protected expert, and under an offline policy
 * never one used sooner than the prefetched one); a demand load with no victim cancels the
 * newest queued prefetch, else waits for the earliest in-flight prefetch of its group and takes
 * its slot when it lands. A prefetch with no slot is dropped. With a byte budget over experts of
 * different sizes the same rules repeat until the expert's bytes are free, and each transfer
 * takes its own expert's time.
 * Equal times: demand loads, then prefetches, then transfer starts.
 */
import type { AccessStream } from "../traces/batching.ts"
import type { EvictionPolicy } from "../policies/evictionPolicy.ts"
import type { Predictor } from "../policies/predictor.ts"
import { actualSet } from "../policies/predictor.ts"
import type { Prefetcher, PrefetchHost } from "../policies/prefetcher.ts"
import type { CacheGeometry } from "../policies/cacheGeometry.ts"
import { CopyQueue } from "./copyQueue.ts"
import { Flights } from "./flights.ts"
import type { TimingModel } from "./timing.ts"
import { type Timeline, TRACK_COMPUTE, TRACK_COPY0, TRACK_HOST, TRACK_STALL } from "./timeline.ts"
import type { CommandLog } from "./commandLog.ts"

const ABSENT = 0,
  QUEUED = 1,
  INFLIGHT = 2,
  RESIDENT = 3

export type ExpertOrder = "as-listed" | "resident-first"

export interface TimedInputs {
  readonly stream: AccessStream
  readonly geometry: CacheGeometry
  readonly timing: TimingModel
  readonly eviction: EvictionPolicy
  readonly future: { next: Int32Array; first: Int32Array } | null
  readonly predictor: Predictor | null
  readonly prefetcher: Prefetcher | null
  readonly copyEngines: number
  readonly timeline: Timeline | null
  readonly order?: ExpertOrder
  /** Host time charged on the compute stream before step s (e.g. a token scheduler's decision). */
  readonly hostNsBeforeStep?: Float64Array | null
  /**
   * Static pinning: from step `step` on, `keys` are pinned. Pinned experts are loaded with the
   * model (at step 0, or when the deployment is re-pinned), so those loads cost no run time.
   */
  readonly pins?: ReadonlyArray<{
    readonly step: number
    readonly keys: ReadonlyArray<number>
    readonly mask: Uint8Array
  }>
  /** When given, every decision is also recorded as commands for a hardware executor. */
  readonly commands?: CommandLog
  /** Told every 256 steps and at the end how far the replay is (steps done, steps in all). */
  readonly onProgress?: (done: number, total: number) => void
}

/** `acquire`'s answer when every slot is held by the running layer's experts. */
const NO_SLOT = -2

export interface TimedCounts {
  accesses: number
  hits: number
  lateHits: number
  misses: number
  layerHits: Float64Array
  layerAccesses: Float64Array
  totalNs: number
  computeNs: number
  stallNs: number
  hostNs: number
  stallEvents: number
  transfers: number
  /** Units moved over the link: experts (slots) or bytes (a byte budget over mixed sizes). */
  transferredUnits: number
  demandLoads: number
  linkBusyNs: number
  prefetchIssued: number
  prefetchUsed: number
  prefetchWasted: number
  prefetchDropped: number
  predictions: number
  predictedTotal: number
  predictedCorrect: number
  actualTotal: number
  bAccSum: number
  peakSlots: number
  /**
   * Demand loads that found every slot held by their own layer's experts and waited for one of
   * them to finish (a batch needing more experts in a layer than the cache holds; EF-H's
   * pipelined miss window). 0 when every layer's experts fit at once.
   */
  streamedLoads: number
  /** Values the policy traced over time: name → [step, layer, value] at each change. */
  traced: Map<string, Array<[number, number, number]>>
}

export function runTimed(inp: TimedInputs): TimedCounts {
  const a = inp.stream
  const { layers: L, experts: E, keys, offsets, counts } = a
  const g = inp.geometry
  const policy = inp.eviction
  const timing = inp.timing
  const tl = inp.timeline
  const order = inp.order ?? "as-listed"
  const numKeys = L * E
  const state = new Uint8Array(numKeys)
  const pinned = new Uint8Array(numKeys)
  const blocked = new Uint8Array(numKeys)
  const arrival = new Float64Array(numKeys)
  const unusedPrefetch = new Uint8Array(numKeys)
  /** Layer (flat) a prefetched, not yet used expert was predicted for; -1 otherwise. */
  const predictedFor = new Int32Array(numKeys).fill(-1)
  // Per layer, the keys prefetched for one of its flats (stale entries skipped where read): the
  // run-time correction visits these instead of every expert of the layer.
  const predictedAt: number[][] | null = policy.onUnwanted ? Array.from({ length: L }, () => []) : null
  const nextUseOfKey = inp.future ? Int32Array.from(inp.future.first) : new Int32Array(numKeys)
  const next = inp.future ? inp.future.next : null
  const used = new Float64Array(g.capacities.length)
  const unit = g.unitOfLayer
  const sizeOf = (key: number) => (unit ? unit[(key / E) | 0]! : 1)
  // Transfers in flight, in landing order: all of them (landing) and per cache group (the
  // earliest one a demand load may wait for). Thousands of prefetches may be in flight at
  // DeepSeek-V3 scale: FIFOs per copy engine, not scans.
  const flights = new Flights(numKeys, inp.copyEngines, g.capacities.length)
  let starts = 0
  /** `blocked[key] = v`, telling the policy of a change (it may keep blocked keys aside). */
  const setBlocked = (key: number, v: number) => {
    if (blocked[key] === v) return
    blocked[key] = v
    if (v) policy.block?.(key)
    else policy.unblock?.(key)
  }
  const settle = (key: number) => flights.settle(key)
  // Slot ids (global; each group owns a contiguous range): the executor needs real addresses.
  // A byte budget over mixed sizes has no fixed slots: its keys get slot -1.
  const slotOf = new Int32Array(numKeys).fill(-1)
  const issuedAt = new Int32Array(numKeys)
  // Each group's free slots, a stack in one typed array: group gi's at [slotBase[gi], + freeCount[gi]).
  const G = g.capacities.length
  const slotBase = new Int32Array(G),
    freeCount = new Int32Array(G)
  const freeSlots = new Int32Array(unit ? 0 : g.capacities.reduce((x, y) => x + y, 0))
  for (let gi = 0, first = 0; gi < G; first += g.capacities[gi]!, gi++) {
    slotBase[gi] = first
    if (unit) continue
    freeCount[gi] = g.capacities[gi]!
    for (let i = 0; i < g.capacities[gi]!; i++) freeSlots[first + i] = first + g.capacities[gi]! - 1 - i
  }
  const popSlot = (group: number) => freeSlots[slotBase[group]! + --freeCount[group]!]!
  if (unit && inp.commands) throw new Error("engine: a command log needs uniform expert sizes (fixed slots)")
  const log = inp.commands ?? null
  /** Index of the last compute command recorded (issue decisions happen after it ends). */
  let lastCompute = -1
  const c: TimedCounts = {
    accesses: a.accesses,
    hits: 0,
    lateHits: 0,
    misses: 0,
    layerHits: new Float64Array(L),
    layerAccesses: new Float64Array(L),
    totalNs: 0,
    computeNs: 0,
    stallNs: 0,
    hostNs: 0,
    stallEvents: 0,
    transfers: 0,
    transferredUnits: 0,
    demandLoads: 0,
    linkBusyNs: 0,
    prefetchIssued: 0,
    prefetchUsed: 0,
    prefetchWasted: 0,
    prefetchDropped: 0,
    predictions: 0,
    predictedTotal: 0,
    predictedCorrect: 0,
    actualTotal: 0,
    bAccSum: 0,
    peakSlots: 0,
    streamedLoads: 0,
    traced: new Map()
  }
  let occupied = 0
  // The replay's clock (ns), in a typed array: a double in a variable that closures share is boxed anew at every write.
  const clock = new Float64Array(1)
  let cursor = 0
  let curStep = 0,
    curLayer = 0,
    layersDone = 0
  const groupOf = (key: number) => g.groupOfLayer[(key / E) | 0]!
  const label = (key: number) => `L${(key / E) | 0} E${key % E}`

  const queue = new CopyQueue(
    numKeys,
    inp.copyEngines,
    timing.transferNs,
    {
      onStart(key, start, end, engine, demand) {
        state[key] = INFLIGHT
        arrival[key] = end
        settle(key) // an earlier flight of this key, dropped before it landed
        starts++
        flights.start(key, groupOf(key), engine, end, starts)
        if (log)
          log.commands.push({ kind: "copy", t: start, key, slot: slotOf[key]!, demand, after: issuedAt[key]!, engine })
        c.transfers++
        c.transferredUnits += sizeOf(key)
        c.linkBusyNs += end - start
        if (tl) tl.add(TRACK_COPY0 + engine, `H2D ${label(key)}`, demand ? "demand" : "prefetch", start, end)
      }
    },
    unit ? (timing.transferNsOfLayer ?? null) : null,
    E,
    g.groupOfLayer
  )

  /** Mark transfers that have arrived by time `now` as resident. */
  const land = (now: number) => {
    for (let k = flights.first(); k >= 0 && arrival[k]! <= now; k = flights.first()) {
      settle(k)
      state[k] = RESIDENT
      setBlocked(k, pinned[k]!)
    }
  }

  const drop = (key: number, group: number) => {
    policy.remove(key, group)
    if (unit) {
      used[group]! -= sizeOf(key)
      occupied -= sizeOf(key)
    } else freeSlots[slotBase[group]! + freeCount[group]!++] = slotOf[key]!
    slotOf[key] = -1
    if (state[key] === QUEUED) queue.cancel(key)
    if (state[key] === INFLIGHT) settle(key)
    state[key] = ABSENT
    setBlocked(key, 0)
    if (unusedPrefetch[key]) {
      unusedPrefetch[key] = 0
      c.prefetchWasted++
    }
    if (tl) tl.instant(`evict ${label(key)}`, "evict", clock[0])
  }

  /** Find a slot in `group` for `key`: returns when it is free (t, or a landing time), or -1. */
  const acquire = (key: number, group: number, demand: boolean): number => {
    if (unit) return acquireBytes(key, group, demand)
    if (used[group]! < g.capacities[group]!) {
      used[group]!++
      if (++occupied > c.peakSlots) c.peakSlots = occupied
      return clock[0]
    }
    const v = policy.victim(group, blocked, demand)
    if (v >= 0 && (demand || !policy.needsFuture || nextUseOfKey[v]! > nextUseOfKey[key]!)) {
      drop(v, group)
      return clock[0]
    }
    if (!demand) return -1
    const q = queue.newestPrefetch(group)
    if (q >= 0) {
      drop(q, group)
      return clock[0]
    }
    const w = flights.firstUnpinned(group, pinned)
    if (w < 0) return NO_SLOT
    const freeAt = arrival[w]!
    drop(w, group)
    return freeAt
  }

  /**
   * `acquire` over bytes: free room for the key's size by the same rules, repeated (victims, then
   * for a demand load the newest queued prefetches, then landing in-flight prefetches). The room
   * is taken (used += size) when the call returns a time.
   */
  const acquireBytes = (key: number, group: number, demand: boolean): number => {
    const need = sizeOf(key)
    const cap = g.capacities[group]!
    let freeAt = clock[0]
    while (used[group]! + need > cap) {
      const v = policy.victim(group, blocked, demand)
      if (v >= 0 && (demand || !policy.needsFuture || nextUseOfKey[v]! > nextUseOfKey[key]!)) {
        drop(v, group)
        continue
      }
      if (!demand) return -1
      const q = queue.newestPrefetch(group)
      if (q >= 0) {
        drop(q, group)
        continue
      }
      const w = flights.firstUnpinned(group, pinned)
      if (w < 0) return NO_SLOT
      freeAt = Math.max(freeAt, arrival[w]!)
      drop(w, group)
    }
    used[group]! += need
    occupied += need
    if (occupied > c.peakSlots) c.peakSlots = occupied
    return freeAt
  }

  const load = (key: number, group: number, readyAt: number, demand: boolean) => {
    if (!unit) slotOf[key] = popSlot(group)
    issuedAt[key] = lastCompute
    policy.insert(key, group, cursor, nextUseOfKey[key]!)
    state[key] = QUEUED
    setBlocked(key, 1)
    queue.enqueue(key, readyAt, demand, group)
  }

  const pinAt = (s: number) => {
    for (const p of inp.pins ?? []) {
      if (p.step !== s) continue
      if (policy.repin) policy.repin(p.mask, (k) => state[k] !== ABSENT, groupOf)
      for (const key of p.keys) {
        if (state[key] !== ABSENT) continue
        const group = groupOf(key)
        if (unit) {
          while (used[group]! + sizeOf(key) > g.capacities[group]!) {
            const v = policy.victim(group, blocked, true)
            if (v < 0) break
            drop(v, group)
          }
          if (used[group]! + sizeOf(key) > g.capacities[group]!) continue
          used[group]! += sizeOf(key)
          occupied += sizeOf(key)
          if (occupied > c.peakSlots) c.peakSlots = occupied
        } else if (used[group]! < g.capacities[group]!) {
          used[group]!++
          if (++occupied > c.peakSlots) c.peakSlots = occupied
        } else {
          const v = policy.victim(group, blocked, true)
          if (v < 0) continue
          drop(v, group)
        }
        if (!unit) slotOf[key] = popSlot(group)
        if (log && s === 0) log.preloaded.push([key, slotOf[key]!])
        policy.insert(key, group, cursor, nextUseOfKey[key]!)
        state[key] = RESIDENT
      }
    }
  }

  const mark = new Uint8Array(E)
  const host: PrefetchHost = {
    stream: a,
    transferNs: timing.transferNs,
    predict(step, layer, out) {
      const n = inp.predictor!.predict(step, layer, curStep, curLayer, out)
      const actual = actualSet(a, step, layer)
      for (let i = 0; i < actual.length; i++) mark[actual[i]!] = 1
      let hit = 0
      for (let i = 0; i < n; i++) hit += mark[out[i]!]!
      for (let i = 0; i < actual.length; i++) mark[actual[i]!] = 0
      c.predictions++
      c.predictedTotal += n
      c.predictedCorrect += hit
      c.actualTotal += actual.length
      c.bAccSum += actual.length > 0 ? hit / actual.length : 1
      return n
    },
    distribution(step, layer, out) {
      const p = inp.predictor
      return p?.distribution?.(step, layer, curStep, curLayer, out) ?? false
    },
    prefetch(layer, expert, targetFlat) {
      const key = layer * E + expert
      if (policy.onPredicted) policy.onPredicted(key, targetFlat)
      if (state[key] !== ABSENT) return false
      const group = g.groupOfLayer[layer]!
      if (acquire(key, group, false) < 0) {
        c.prefetchDropped++
        return false
      }
      load(key, group, clock[0], false)
      unusedPrefetch[key] = 1
      predictedFor[key] = targetFlat
      if (predictedAt) predictedAt[layer]!.push(key)
      c.prefetchIssued++
      return true
    },
    prefetchEach(layer, experts, n, targetFlat) {
      // A prefetch refused for want of room leaves everything as it was, so the layer's next absent
      // experts (same group, same size) are refused too: counted without asking the policy again,
      // unless it sees each prediction (onPredicted) or weighs each key's next use (needsFuture).
      const skipRefused = !policy.onPredicted && !policy.needsFuture
      const base = layer * E
      for (let i = 0; i < n; i++) {
        const key = base + experts[i]!
        if (state[key] !== ABSENT) {
          if (policy.onPredicted) policy.onPredicted(key, targetFlat)
          continue
        }
        if (!host.prefetch(layer, experts[i]!, targetFlat) && skipRefused) {
          for (let j = i + 1; j < n; j++) if (state[base + experts[j]!] === ABSENT) c.prefetchDropped++
          return
        }
      }
    },
    cached(layer, expert) {
      return state[layer * E + expert] !== ABSENT
    },
    observedLayerNs() {
      return layersDone > 0 ? (c.computeNs + c.hostNs) / layersDone : timing.layerNs(1) + timing.expertNs(1)
    },
    stallEvents: () => c.stallEvents,
    wastedPrefetches: () => c.prefetchWasted,
    trace(name, value) {
      let series = c.traced.get(name)
      if (!series) {
        series = []
        c.traced.set(name, series)
      }
      const last = series[series.length - 1]
      if (!last || last[2] !== value) {
        series.push([curStep, curLayer, value])
        if (tl) tl.counter(name, clock[0], value)
      }
    }
  }

  // Expert FFN time by (layer, tokens): a table the replay indexes instead of a call per expert run,
  // as wide as the most tokens one expert gets in a step (not a step's tokens: a prefill chunk's).
  const maxTokens = a.maxCount
  const ffnNs = new Float64Array(L * (maxTokens + 1))
  for (let l = 0; l < L; l++)
    for (let n = 1; n <= maxTokens; n++) ffnNs[l * (maxTokens + 1) + n] = timing.expertNs(n, l)
  const pf = inp.prefetcher
  const runOrder = new Int32Array(E),
    inFlightOrder = new Int32Array(E),
    queuedOrder = new Int32Array(E)
  // Demand loads of the current layer waiting for one of its experts to finish (streamed).
  const deferred = new Int32Array(E)
  let nDeferred = 0,
    nextDeferred = 0
  /** Start the layer's streamed loads that now find room (after an expert of the layer finished). */
  const startDeferred = (base: number, group: number) => {
    while (nextDeferred < nDeferred) {
      const key = base + keys[deferred[nextDeferred]!]!
      const at = acquire(key, group, true)
      if (at === NO_SLOT) return
      load(key, group, at, true)
      pinned[key] = 1
      setBlocked(key, 1)
      nextDeferred++
    }
  }
  for (let s = 0; s < a.steps; s++) {
    if (inp.onProgress && (s & 255) === 0) inp.onProgress(s, a.steps)
    const tokens = a.stepTokenOffsets[s + 1]! - a.stepTokenOffsets[s]!
    const layerNs = timing.layerNs(tokens)
    const hostNs = inp.hostNsBeforeStep ? inp.hostNsBeforeStep[s]! : 0
    if (hostNs > 0) {
      if (tl) tl.add(TRACK_HOST, "host decisions (scheduler, predictor)", "host", clock[0], clock[0] + hostNs)
      clock[0] += hostNs
      c.hostNs += hostNs
    }
    curStep = s
    curLayer = 0
    if (inp.pins) {
      queue.advanceTo(clock[0])
      land(clock[0])
      pinAt(s)
    }
    pf?.onStepStart?.(host, s)
    for (let l = 0; l < L; l++) {
      curLayer = l
      const flat = s * L + l
      const i0 = offsets[flat]!,
        i1 = offsets[flat + 1]!
      const base = l * E
      const group = g.groupOfLayer[l]!
      if (tl) tl.add(TRACK_COMPUTE, `L${l} attention+router`, "non-expert", clock[0], clock[0] + layerNs)
      if (log) {
        lastCompute = log.commands.length
        log.commands.push({ kind: "layer", t: clock[0], flat, tokens })
      }
      clock[0] += layerNs
      c.computeNs += layerNs
      queue.advanceTo(clock[0])
      land(clock[0])
      if (policy.onLayer) policy.onLayer(flat)
      // 2. the gate: classify and pin.
      let h = 0
      nDeferred = 0
      nextDeferred = 0
      for (let i = i0; i < i1; i++) {
        const key = base + keys[i]!
        const nu = next === null ? 0 : next[i]!
        if (next !== null) nextUseOfKey[key] = nu
        const st = state[key]
        if (st === RESIDENT) {
          h++
          policy.touch(key, group, i, nu)
        } else if (st === ABSENT) {
          c.misses++
          c.demandLoads++
          const at = acquire(key, group, true)
          if (at === NO_SLOT) {
            // Every slot holds this layer's experts: load it once one of them has run.
            deferred[nDeferred++] = i
            c.streamedLoads++
            continue
          }
          load(key, group, at, true)
        } else {
          c.lateHits++
          policy.touch(key, group, i, nu)
          if (st === QUEUED) queue.promote(key, clock[0])
        }
        if (unusedPrefetch[key]) {
          unusedPrefetch[key] = 0
          c.prefetchUsed++
          predictedFor[key] = -1
        }
        pinned[key] = 1
        setBlocked(key, 1)
      }
      // Run-time correction: experts predicted for this layer that it does not need are demoted.
      if (predictedAt) {
        // Predicted for this flat: demoted, in the order they were prefetched (demotions commute:
        // each only lowers its own key). For a later one (a horizon past a whole step; none of
        // today's prefetchers): kept. Stale entries go.
        const list = predictedAt[l]!
        let kept = 0
        for (const key of list) {
          if (predictedFor[key] === flat) {
            predictedFor[key] = -1
            policy.onUnwanted!(key)
          } else if (predictedFor[key]! > flat) list[kept++] = key
        }
        list.length = kept
      }
      c.hits += h
      c.layerHits[l]! += h
      c.layerAccesses[l]! += i1 - i0
      cursor = i1
      // 3. prefetch decisions for later layers.
      if (pf) pf.onGate(host, s, l)
      // 4. expert FFNs, each after its weights arrive.
      let n = 0
      if (order === "resident-first") {
        // One pass: resident ones in place, in-flight and queued ones aside, then appended.
        let nf = 0,
          nq = 0
        for (let i = i0; i < i1; i++) {
          const st = state[base + keys[i]!]
          if (st === RESIDENT) runOrder[n++] = i
          else if (st === INFLIGHT) inFlightOrder[nf++] = i
          else if (st === QUEUED) queuedOrder[nq++] = i
        }
        for (let k = 0; k < nf; k++) runOrder[n++] = inFlightOrder[k]!
        for (let k = 0; k < nq; k++) runOrder[n++] = queuedOrder[k]!
      } else for (let i = i0; i < i1; i++) if (state[base + keys[i]!] !== ABSENT) runOrder[n++] = i
      for (let d = 0; d < nDeferred; d++) runOrder[n++] = deferred[d]!
      for (let j = 0; j < n; j++) {
        const i = runOrder[j]!
        const key = base + keys[i]!
        if (state[key] === ABSENT) {
          // A streamed load whose turn came before a slot freed early enough to start it.
          startDeferred(base, group)
          if (state[key] === ABSENT) throw new Error("engine: no slot for a streamed load")
        }
        if (state[key] !== RESIDENT) {
          if (state[key] === QUEUED) queue.startUntil(key)
          const at = arrival[key]!
          if (at > clock[0]) {
            if (tl) tl.add(TRACK_STALL, `wait ${label(key)}`, "stall", clock[0], at)
            c.stallNs += at - clock[0]
            c.stallEvents++
            clock[0] = at
          }
          settle(key)
          state[key] = RESIDENT
        }
        const tokensHere = counts === null ? 1 : counts[i]!
        const ns = ffnNs[l * (maxTokens + 1) + tokensHere]!
        if (log) {
          lastCompute = log.commands.length
          log.commands.push({ kind: "ffn", t: clock[0], key, slot: slotOf[key]!, tokens: tokensHere, flat })
        }
        if (tl) tl.add(TRACK_COMPUTE, `${label(key)} FFN`, "expert", clock[0], clock[0] + ns, { tokens: tokensHere })
        clock[0] += ns
        c.computeNs += ns
        pinned[key] = 0
        setBlocked(key, 0)
        if (policy.onDone) policy.onDone(key)
        if (nextDeferred < nDeferred) {
          queue.advanceTo(clock[0])
          land(clock[0])
          startDeferred(base, group)
        }
        if (pf?.onExpertDone) {
          queue.advanceTo(clock[0])
          land(clock[0])
          pf.onExpertDone(host, s, l, keys[i]!)
        }
      }
      layersDone++
      if (pf?.onLayerEnd) {
        queue.advanceTo(clock[0])
        land(clock[0])
        pf.onLayerEnd(host, s, l)
      }
    }
  }
  c.totalNs = clock[0]
  inp.onProgress?.(a.steps, a.steps)
  for (let k = 0; k < numKeys; k++) if (unusedPrefetch[k]) c.prefetchWasted++
  // Transfers still running when the last expert finished count only up to the end.
  for (let k = 0; k < numKeys; k++)
    if (state[k] === INFLIGHT && arrival[k]! > clock[0]) c.linkBusyNs -= arrival[k]! - clock[0]
  return c
}
