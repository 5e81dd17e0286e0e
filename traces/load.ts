/** Load a trace in any known format, detected from its first bytes unless the caller says. */
import { closeSync, existsSync, openSync, readSync, statSync } from "node:fs"
import { InputError } from "../base/errors.ts"
import { isCanonical, readTrace } from "./canonical.ts"
import type { Trace, TraceModel } from "./trace.ts"
import { importRouteTrace, ROUTE_TRACE_MAGIC } from "./routeTrace.ts"
import { importVllmJsonl } from "./vllmJsonl.ts"

export const TRACE_FORMATS = ["eft", "vllm-jsonl", "route-trace"] as const
export type TraceFormat = (typeof TRACE_FORMATS)[number]

export function detectFormat(path: string): TraceFormat {
  if (!existsSync(path)) throw new InputError(path, "file", "path", "no such file")
  const st = statSync(path)
  if (st.isDirectory()) throw new InputError(path, "file", "path", "is a folder, not a trace file")
  if (!st.isFile())
    throw new InputError(path, "file", "path", "not a regular file (a pipe or device): save the trace to a file first")
  const fd = openSync(path, "r")
  const head = new Uint8Array(64)
  const n = readSync(fd, head, 0, 64, 0)
  closeSync(fd)
  if (isCanonical(head.subarray(0, n))) return "eft"
  const text = new TextDecoder().decode(head.subarray(0, n)).trimStart()
  if (text.startsWith("{")) return "vllm-jsonl"
  if (text.startsWith(ROUTE_TRACE_MAGIC)) return "route-trace"
  throw new InputError(
    path,
    "file",
    "format",
    "unknown trace format (expected an ExpertFlow .eft file, vLLM-style JSONL or a llama.cpp route_trace); " +
      "use --trace-format"
  )
}

/**
 * `model` gives layers/experts/top-k to formats that do not carry them (JSONL); null for the others.
 * `weights: false` is a replay's read: a canonical file's gate weights stay on disk (readTrace).
 */
export function loadTrace(
  path: string,
  model: TraceModel | null,
  format?: TraceFormat,
  { weights = true }: { weights?: boolean } = {}
): Trace {
  const f = format ?? detectFormat(path)
  if (f === "eft") return readTrace(path, { weights })
  if (f === "route-trace") return importRouteTrace(path)
  if (model === null)
    throw new InputError(path, "file", "model", "a vLLM JSONL trace needs --model (layers, experts, top-k)")
  return importVllmJsonl(path, model)
}

/** Does this file carry its own model shape (so --model may be left out)? */
export const carriesModel = (path: string, format?: TraceFormat): boolean =>
  (format ?? detectFormat(path)) !== "vllm-jsonl"
