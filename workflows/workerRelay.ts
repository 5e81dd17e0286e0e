/**
 * What the run's worker threads (predictAhead.ts, trainAhead.ts, scheduleAhead.ts) share: their
 * inputs, in shared memory; their errors carried back with their kind (bad input stays bad input:
 * the same exit code and one-line message as in-thread); and, for those with one answer to give,
 * how it is started, awaited and posted.
 */
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from "node:worker_threads"
import { InputError, UsageError } from "../base/errors.ts"
import type { AccessStream } from "../traces/batching.ts"
import type { Trace } from "../traces/trace.ts"
import type { PredictorContext } from "../policies/predictor.ts"
import { trainingOf, type Training } from "../policies/training.ts"

/** What a worker builds the run's learned predictor from. */
export interface PredictorInputs {
  readonly stream: AccessStream
  readonly trace: Trace
  readonly traceName: string
  readonly training: Omit<Training, "foldOf">
  readonly predictor: string
  readonly predictorArgs: ReadonlyArray<string>
  readonly top: number
}

/** The predictor's context, in the worker. */
export function contextOf(d: PredictorInputs): PredictorContext {
  return {
    stream: d.stream,
    trace: d.trace,
    traceName: d.traceName,
    top: d.top,
    training: trainingOf(d.training),
    args: d.predictorArgs
  }
}

export interface ErrorMessage {
  readonly error: string
  readonly kind: "input" | "usage" | "internal"
  readonly file?: string
  readonly record?: string
  readonly field?: string
  readonly detail?: string
}

/** An error thrown in a worker, as a message. */
export function errorMessage(e: unknown): ErrorMessage {
  const err = e as Error
  return {
    error: err.message,
    kind: e instanceof InputError ? "input" : e instanceof UsageError ? "usage" : "internal",
    ...(e instanceof InputError ? { file: e.file, record: e.record, field: e.field, detail: e.detail } : {})
  }
}

/** The worker's error again, of its kind; `m` undefined: it failed without a word. */
export function errorFrom(m: ErrorMessage | undefined, what: string): Error {
  if (!m) return new Error(`${what} failed without a message`)
  if (m.kind === "input") return new InputError(m.file!, m.record!, m.field!, m.detail!)
  if (m.kind === "usage") return new UsageError(m.error)
  return new Error(m.error)
}

/**
 * `x` with every typed array in shared memory: one already there (a canonical trace's columns, a
 * stream's keys and counts) as it is, any other copied once (just the view's extent), the same
 * object for the same array. The worker reads them in place. Sent as they are, the trace and
 * stream would be serialized and copied again into the worker, three times their bytes at the
 * peak (7.7 GiB for a 1M-token DeepSeek-V3 trace, against 2.35 GiB in-thread).
 */
export function shared<T>(x: T, seen = new Map<unknown, unknown>()): T {
  if (x === null || typeof x !== "object") return x
  if (seen.has(x)) return seen.get(x) as T
  if (ArrayBuffer.isView(x) && !(x instanceof DataView)) {
    const a = x as unknown as Uint8Array
    if (a.buffer instanceof SharedArrayBuffer) return x
    const Ctor = a.constructor as new (b: SharedArrayBuffer) => Uint8Array
    const copy = new Ctor(new SharedArrayBuffer(a.byteLength))
    copy.set(a)
    seen.set(x, copy)
    return copy as unknown as T
  }
  // Plain objects and arrays are walked; anything else goes as it is.
  if (!Array.isArray(x) && Object.getPrototypeOf(x) !== Object.prototype) return x
  const out: Record<string, unknown> | unknown[] = Array.isArray(x) ? [] : {}
  seen.set(x, out)
  for (const [k, v] of Object.entries(x)) (out as Record<string, unknown>)[k] = shared(v, seen)
  return out as T
}

/** What a one-answer worker (`answerOnce`) gets besides its own inputs. */
export interface OneAnswerChannel {
  /** One Int32: 1 once the answer is posted. */
  readonly done: SharedArrayBuffer
  readonly port: MessagePort
}

/** In the worker: post what `work` returns (its buffers moved, not copied), or its error; then flag done. */
export function answerOnce(d: OneAnswerChannel, work: () => { data: unknown; transfer?: ArrayBuffer[] }): void {
  try {
    const { data, transfer } = work()
    d.port.postMessage({ data }, transfer ?? [])
  } catch (e) {
    d.port.postMessage(errorMessage(e))
  }
  const done = new Int32Array(d.done)
  Atomics.store(done, 0, 1)
  Atomics.notify(done, 0)
}

/**
 * Start worker `entry` on `data` (sent as it is: share its arrays first) for the one answer it
 * posts (answerOnce). `take` waits for it, at most `seconds`, then stops the worker and returns
 * the answer, or throws the worker's error again, of its kind; `close` stops it unanswered.
 */
export function startOneAnswer(
  entry: string,
  data: object,
  what: string,
  seconds: number
): { take(): unknown; close(): void } {
  const done = new Int32Array(new SharedArrayBuffer(4))
  const { port1, port2 } = new MessageChannel()
  const worker = new Worker(entry, {
    workerData: { ...data, done: done.buffer, port: port2 },
    transferList: [port2]
  })
  const close = () => {
    port1.close()
    void worker.terminate()
  }
  const take = (): unknown => {
    for (let waited = 0; Atomics.load(done, 0) === 0; waited++) {
      if (waited >= seconds) {
        close()
        throw new Error(`${what}: no answer from the worker in ${seconds} s (rerun with --predict-ahead off)`)
      }
      Atomics.wait(done, 0, 0, 1000)
    }
    const m = receiveMessageOnPort(port1)?.message as { data: unknown } | ErrorMessage | undefined
    close()
    if (m && "data" in m) return m.data
    throw errorFrom(m, `${what} worker`)
  }
  return { take, close }
}
