/**
 * Progress on stderr for long runs, only when stderr is a terminal (never in pipes, logs or CI)
 * and only once a run has taken ~2 s: done/total, rate and ETA (cli-progress).
 */
import cliProgress from "cli-progress"

const SHOW_AFTER_MS = 2000

/** `{ onProgress }` for a run, or nothing when progress should stay silent. */
export function progressOf(label: string, unit: string): { onProgress?: (done: number, total: number) => void } {
  if (!process.stderr.isTTY) return {}
  const started = performance.now()
  let bar: cliProgress.SingleBar | null = null
  return {
    onProgress(done, total) {
      if (bar === null) {
        if (performance.now() - started < SHOW_AFTER_MS) return
        bar = new cliProgress.SingleBar(
          {
            format: `${label} {bar} {value}/{total} ${unit} | ETA {eta_formatted}`,
            hideCursor: true,
            stream: process.stderr,
            clearOnComplete: true
          },
          cliProgress.Presets.shades_classic
        )
        bar.start(total, done)
      }
      bar.update(done)
      if (done >= total) bar.stop()
    }
  }
}
