/**
 * `expertflow report`: one self-contained HTML file from result lines — charts as inline SVG,
 * a sortable table of every metric, and provenance. No scripts or styles are fetched; the only
 * script is the table sorter, inline. Same inputs → same bytes.
 */
import { InputError } from "../base/errors.ts"
import { readInput } from "../base/readInput.ts"
import type { CellResult } from "../workflows/runCell.ts"
import { TOOL_VERSION } from "../base/version.ts"
import { charts } from "./charts.ts"
import { decisionRows, policyNotes } from "./decision.ts"
import type { Summary } from "../workflows/validate.ts"

export function readResults(files: string[]): CellResult[] {
  const out: CellResult[] = []
  for (const file of files) {
    const before = out.length
    readInput(file, "utf8")
      .split("\n")
      .forEach((line, i) => {
        if (line.trim() === "") return
        let rec: Partial<CellResult>
        try {
          rec = JSON.parse(line)
        } catch (e) {
          throw new InputError(file, `line ${i + 1}`, "(json)", (e as Error).message)
        }
        if (rec.tool !== "expertflow")
          throw new InputError(file, `line ${i + 1}`, "tool", "not an ExpertFlow result record")
        // Single `simulate --out` records lack the sweep fields: fill them from the record itself.
        out.push({
          sweep: "",
          cell_index: out.length,
          cell_id: "",
          policy_label: rec.policy!,
          cache_spec: `${rec.cache_slots} slots`,
          ...rec
        } as CellResult)
      })
    if (out.length === before) throw new InputError(file, "file", "(records)", "no result records: the file is empty")
  }
  return out
}

const esc = (s: unknown) =>
  String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")
const pct = (x: number | null) => (x === null ? "" : (x * 100).toFixed(2))

/** Extra sections other commands add (e.g. validate's measured-vs-simulated table). */
export interface Section {
  id: string
  title: string
  html: string
}

/** The measured-against-simulated table of a validate folder. */
export function validationSection(dir: string, s: Summary): Section {
  const ms = (ns: number) => (ns / 1e6).toFixed(3)
  const pctv = (x: number) => `${(x * 100).toFixed(2)}%`
  const rows = s.configs
    .map(
      (c) =>
        `<tr>${[
          esc(c.trace),
          esc(c.policy),
          c.slots,
          ms(c.measured_total_ns),
          ms(c.simulated_total_ns),
          pctv(c.total_error),
          ms(c.measured_stall_ns),
          ms(c.simulated_stall_ns),
          pctv(c.stall_error_of_total)
        ]
          .map((v) => `<td>${v}</td>`)
          .join("")}</tr>`
    )
    .join("\n")
  return {
    id: `validation-${dir.replace(/[^A-Za-z0-9]+/g, "-")}`,
    title: `Measured on the GPU against simulated (${dir})`,
    html:
      `<table><thead><tr><th>trace</th><th>policy</th><th>slots</th><th>total measured ms</th><th>total ` +
      `simulated ms</th><th>error</th><th>stall measured ms</th><th>stall simulated ms</th><th>stall error (of ` +
      `total)</th></tr></thead><tbody>\n${rows}\n</tbody></table>
<p>Total-time error median ${pctv(s.total_error_median)}, max ${pctv(s.total_error_max)};
stall error of total, median ${pctv(s.stall_error_of_total_median)} — ${s.within_bounds ? "within" : "outside"}
the bounds (${pctv(s.bounds.total_error_median)}, ${pctv(s.bounds.total_error_max)},
${pctv(s.bounds.stall_error_of_total_median)}).</p>`
  }
}

/** The decision table: per setting and cache size, which policy, by how much, and how far from the bound. */
function decisionSection(results: CellResult[]): string {
  const rows = decisionRows(results)
  if (rows.length === 0) return ""
  const signed = (x: number | null, none: string) =>
    x === null ? none : `${x > 0 ? "+" : x < 0 ? "−" : "±"}${Math.abs(x * 100).toFixed(1)}%`
  const amount = (r: (typeof rows)[number], v: number) => (r.metric === "stall" ? `${v.toFixed(3)} s` : `${v} misses`)
  const body = rows
    .map((r) => {
      const cells = [
        esc(r.group),
        esc(r.cache),
        `<b>${esc(r.best)}</b>`,
        `${amount(r, r.value)} (${(r.share * 100).toFixed(1)}%)`,
        signed(r.vsOnDemand, "no on-demand LRU run"),
        r.runnerUp ? `${esc(r.runnerUp)} (${signed(r.runnerUpGap, "")})` : "—",
        r.bound === null
          ? "no bound run"
          : `${amount(r, r.bound)}: ${(r.toBound! * 100).toFixed(1)}% of the best's ${r.metric} left to win`
      ]
      return `<tr>${cells.map((c) => `<td>${c}</td>`).join("")}</tr>`
    })
    .join("\n")
  const notes = policyNotes(results)
  const noteList =
    notes.length === 0
      ? ""
      : `<p><b>Read with care:</b></p><ul class="notes">${notes
          .map((n) => `<li><b>${esc(n.policy)}</b> ${esc(n.note)}.</li>`)
          .join("")}</ul>`
  return `<section id="decision"><h2>Which policy, at which cache size</h2>
<p>For each trace, GPU and cache size: the best deployable policy (lowest stall; in cache-only runs, fewest
misses), what it saves against on-demand LRU, how close the runner-up comes, and what the offline bound (oracle
prediction or Belady eviction, not deployable) says is still left.</p>
<div class="wide"><table id="decision-table"><thead><tr><th>trace · GPU</th><th>cache</th><th>best policy</th>
<th>its stall (of time)</th><th>vs on-demand LRU</th><th>runner-up (more stall)</th><th>offline bound</th></tr>
</thead><tbody>
${body}
</tbody></table></div>${noteList}</section>`
}

export async function renderReport(
  results: CellResult[],
  opts: { command: string; files: string[]; sections?: Section[] }
): Promise<string> {
  const figs = await charts(results)
  const columns: Array<[string, (r: CellResult) => string | number, boolean]> = [
    ["sweep", (r) => r.sweep, false],
    ["trace", (r) => r.trace, false],
    ["model", (r) => r.model, false],
    ["hardware", (r) => r.hardware, false],
    ["policy", (r) => r.policy_label, false],
    ["spec", (r) => r.policy, false],
    ["mode", (r) => r.mode, false],
    ["cache slots", (r) => r.cache_slots, true],
    ["batch", (r) => r.batch_size, true],
    ["accesses", (r) => r.accesses, true],
    ["hit %", (r) => pct(r.hit_rate), true],
    ["late hits", (r) => r.late_hits, true],
    ["misses", (r) => r.misses, true],
    ["stall %", (r) => pct(r.stall_fraction), true],
    ["stall s", (r) => (r.stall_ns / 1e9).toFixed(4), true],
    ["total s", (r) => (r.total_ns / 1e9).toFixed(4), true],
    ["tokens/s", (r) => r.tokens_per_s, true],
    ["H2D GiB", (r) => (r.bytes_h2d / 2 ** 30).toFixed(3), true],
    ["link %", (r) => pct(r.link_utilization), true],
    ["prefetch prec %", (r) => pct(r.prefetch_precision), true],
    ["prefetch recall %", (r) => pct(r.prefetch_recall), true],
    ["pred. recall %", (r) => pct(r.prediction_recall), true],
    ["B_acc %", (r) => pct(r.b_acc), true]
  ]
  const head = columns.map(([h, , num], i) => `<th data-col="${i}" data-num="${num ? 1 : 0}">${esc(h)}</th>`).join("")
  const table = `<table id="metrics"><thead><tr>${head}</tr></thead><tbody>\n${results
    .map((r) => `<tr>${columns.map(([, f]) => `<td>${esc(f(r))}</td>`).join("")}</tr>`)
    .join("\n")}\n</tbody></table>`
  const uniq = (f: (r: CellResult) => string) => [...new Set(results.map(f))].sort()
  const provenance = `<dl>
<dt>command</dt><dd><code>${esc(opts.command)}</code></dd>
<dt>results files</dt><dd>${opts.files.map((f) => `<code>${esc(f)}</code>`).join(", ")}</dd>
<dt>sweeps</dt><dd>${esc(
    uniq((r) => r.sweep)
      .filter(Boolean)
      .join(", ") || "(single runs)"
  )}</dd>
<dt>tool versions</dt><dd>${esc(uniq((r) => r.version).join(", "))} (report: ${esc(TOOL_VERSION)})</dd>
<dt>traces</dt><dd>${esc(uniq((r) => `${r.trace} (${r.model})`).join("; "))}</dd>
<dt>hardware profiles</dt><dd>${esc(uniq((r) => r.hardware).join(", "))}</dd>
<dt>policy specs</dt><dd>${uniq((r) => `${r.policy_label} = ${r.policy}`)
    .map((s) => `<code>${esc(s)}</code>`)
    .join("<br>")}</dd>
<dt>predictor training</dt><dd>${esc(
    uniq((r) => r.predictor_training ?? "")
      .filter(Boolean)
      .join("; ") || "none"
  )}</dd>
</dl>`
  const figures = figs
    .map(
      (f) =>
        `<figure id="${f.id}" data-marks="${f.marks}" ` +
        `data-mark-selector="${esc(f.markSelector)}"><h2>${esc(f.title)}</h2>${f.svg}` +
        `<figcaption>${esc(f.caption)}</figcaption></figure>`
    )
    .join("\n")
  const extra = (opts.sections ?? [])
    .map((s) => `<section id="${s.id}"><h2>${esc(s.title)}</h2>${s.html}</section>`)
    .join("\n")
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ExpertFlow report</title>
<style>
body{font:14px/1.45 Helvetica,Arial,sans-serif;margin:24px auto;max-width:1400px;color:#222;padding:0 16px}
h1{font-size:22px}h2{font-size:17px;margin:28px 0 8px}figure{margin:0 0 24px;max-width:100%}
figcaption{color:#555;max-width:900px}figure svg{display:block}
table{border-collapse:collapse;font-size:12px}
th,td{border:1px solid #ddd;padding:3px 6px;text-align:right}
th{background:#f4f4f4;position:sticky;top:0;vertical-align:bottom}
#metrics th{cursor:pointer}#metrics td{white-space:nowrap}
#metrics td:nth-child(-n+7){text-align:left}#decision-table td{text-align:left}
dt{font-weight:bold}dd{margin:0 0 8px 16px;overflow-wrap:anywhere}
.wide{overflow-x:auto;max-width:100%}.scroll{overflow:auto;max-width:100%;max-height:80vh}
ul.notes{margin-top:4px}
</style></head>
<body data-rendered="1">
<h1>ExpertFlow policy comparison</h1>
<p>${results.length} runs · ${uniq((r) => r.trace).length} trace(s) · ${uniq((r) => r.hardware).length} GPU profile(s)
· ${uniq((r) => r.policy).length} policies. Simulated time; see provenance at the end.</p>
${decisionSection(results)}
${figures}
${extra}
<h2>All metrics</h2><p>Click a column to sort.</p><div class="scroll">${table}</div>
<h2>Provenance</h2>${provenance}
<script>
document.querySelectorAll("#metrics th").forEach(function (th) {
  th.addEventListener("click", function () {
    var col = +th.dataset.col, num = th.dataset.num === "1", body = document.querySelector("#metrics tbody");
    var dir = th.dataset.dir === "asc" ? -1 : 1; th.dataset.dir = dir === 1 ? "asc" : "desc";
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) { var x = a.cells[col].textContent, y = b.cells[col].textContent;
      return dir * (num ? (parseFloat(x) || 0) - (parseFloat(y) || 0) : x.localeCompare(y)); });
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
</script>
</body></html>
`
}
