/**
 * Timeline spans, exported as Chrome trace-event JSON (open in Perfetto or chrome://tracing).
 * Tracks: compute stream, stalls, one per copy engine. Times are integer ns; the JSON's `ts`/`dur`
 * are microseconds as the format wants, printed with ns precision.
 */
export const TRACK_COMPUTE = 0
export const TRACK_STALL = 1
export const TRACK_HOST = 2
export const TRACK_COPY0 = 3

export interface Span {
  track: number
  name: string
  cat: string
  start: number
  end: number
  args?: Record<string, number | string>
}

export class Timeline {
  readonly spans: Span[] = []
  /** S over time for adaptive prefetchers, and similar counters: [name, t, value]. */
  readonly counters: Array<[string, number, number]> = []
  /** Point events (evictions): [name, cat, t]. */
  readonly instants: Array<[string, string, number]> = []
  add(
    track: number,
    name: string,
    cat: string,
    start: number,
    end: number,
    args?: Record<string, number | string>
  ): void {
    if (end > start) this.spans.push(args ? { track, name, cat, start, end, args } : { track, name, cat, start, end })
  }
  counter(name: string, t: number, value: number): void {
    this.counters.push([name, t, value])
  }
  instant(name: string, cat: string, t: number): void {
    this.instants.push([name, cat, t])
  }
}

const us = (ns: number): number => Number((ns / 1000).toFixed(3))

export function toChromeTrace(tl: Timeline, meta: { process: string; copyEngines: number }): string {
  const names = [
    "compute stream",
    "stall (waiting for experts)",
    "host (scheduler)",
    ...Array.from({ length: meta.copyEngines }, (_, i) => `H2D copy engine ${i}`)
  ]
  const events: unknown[] = [
    { name: "process_name", ph: "M", pid: 1, tid: 0, args: { name: meta.process } },
    ...names.map((n, i) => ({ name: "thread_name", ph: "M", pid: 1, tid: i, args: { name: n } })),
    ...names.map((_, i) => ({ name: "thread_sort_index", ph: "M", pid: 1, tid: i, args: { sort_index: i } }))
  ]
  for (const s of tl.spans) {
    events.push({
      name: s.name,
      cat: s.cat,
      ph: "X",
      pid: 1,
      tid: s.track,
      ts: us(s.start),
      dur: us(s.end - s.start),
      ...(s.args ? { args: s.args } : {})
    })
  }
  for (const [name, cat, t] of tl.instants)
    events.push({ name, cat, ph: "i", s: "t", pid: 1, tid: TRACK_COMPUTE, ts: us(t) })
  for (const [name, t, value] of tl.counters) events.push({ name, ph: "C", pid: 1, ts: us(t), args: { [name]: value } })
  return `{"displayTimeUnit":"ns","traceEvents":[\n${events.map((e) => JSON.stringify(e)).join(",\n")}\n]}\n`
}
