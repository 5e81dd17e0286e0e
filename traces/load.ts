/** Load a trace in any known format, detected from its first bytes unless the caller says. */
import { closeSync, existsSync, openSync, readSync } from "node:fs"
import { InputError } from "../base/errors.ts"
import { isCanonical, readTrace } from "./canonical.ts"
import type { Trace, TraceModel } from "./trace.ts"
import { importVllmJsonl } from "./vllmJsonl.ts"

export const TRACE_FORMATS = ["eft", "vllm-jsonl"] as const
export type TraceFormat = (typeof TRACE_FORMATS)[number]

export function detectFormat(path: string): TraceFormat {
  if (!existsSync(path)) throw new InputError(path, "file", "path", "no such file")
  const fd = openSync(path, "r")
  const head = new Uint8Array(64)
  const n = readSync(fd, head, 0, 64, 0)
  closeSync(fd)
  if (isCanonical(head.subarray(0, n))) return "eft"
  const text = new TextDecoder().decode(head.subarray(0, n)).trimStart()
  if (text.startsWith("{")) return "vllm-jsonl"
  throw new InputError(
    path,
    "file",
    "format",
    "unknown trace format (expected an ExpertFlow .eft file or vLLM-style JSONL); use --trace-format"
  )
}

/** `model` gives layers/experts/top-k to formats that do not carry them (JSONL). */
export function loadTrace(path: string, model: TraceModel, format?: TraceFormat): Trace {
  const f = format ?? detectFormat(path)
  return f === "eft" ? readTrace(path) : importVllmJsonl(path, model)
}
