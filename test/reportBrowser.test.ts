import { describe, expect, it } from "@jest/globals"
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { pathToFileURL } from "node:url"
import { chromium } from "playwright-core"
import { cli } from "./helpers/cli.ts"
import { repoRoot, tempDir } from "./helpers/fixtures.ts"

const CHROMIUM = "/usr/bin/chromium"
const haveChromium = existsSync(CHROMIUM)
if (!haveChromium && process.env.CI)
  throw new Error("CI must install chromium (.ci/run does): the report's browser test cannot be skipped there")
if (!haveChromium) console.log(`skipping the browser test: ${CHROMIUM} is absent (apt-get install chromium)`)

describe("the HTML report in headless Chromium", () => {
  ;(haveChromium ? it : it.skip)("opens offline with every chart and its marks, no errors, no requests", async () => {
    const dir = tempDir("ef-report-")
    const file = join(dir, "sweep.json")
    writeFileSync(
      file,
      JSON.stringify({
        name: "browser",
        traces: [
          { id: "mixtral", model: "mixtral-8x7b", synthetic: { tokens: 150, requests: 3, seed: 4 } },
          { id: "qwen", model: "qwen1.5-moe-a2.7b", synthetic: { tokens: 100, requests: 4, seed: 5 } }
        ],
        hardware: ["h100-pcie"],
        policies: [
          "cache=lru",
          { label: "ef-a", spec: "cache=two-level-lru,prefetch=adaptive,predictor=hybrid" },
          { label: "bound", spec: "cache=belady,prefetch=window:2,predictor=oracle" }
        ],
        cache: [{ fraction: 0.25 }, { fraction: 0.5 }, { fraction: 0.75 }]
      })
    )
    const results = join(dir, "results.jsonl"),
      html = join(dir, "report.html")
    expect(cli(["sweep", file, "--out", results]).code).toBe(0)
    expect(cli(["report", results, "--out", html]).code).toBe(0)
    expect(statSync(html).size).toBeLessThan(2 * 2 ** 20)
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic"
      ]
    })
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } })
      const errors: string[] = [],
        requests: string[] = []
      page.on("pageerror", (e) => errors.push(String(e)))
      page.on("console", (m) => {
        if (m.type() === "error") errors.push(m.text())
      })
      page.on("request", (r) => {
        if (r.url() !== pathToFileURL(html).href) requests.push(r.url())
      })
      await page.goto(pathToFileURL(html).href)
      await page.waitForSelector("body[data-rendered='1']")
      const figures = await page.$$eval("figure", (fs) =>
        fs.map((f) => ({ id: f.id, marks: Number(f.dataset.marks), selector: f.dataset.markSelector! }))
      )
      expect(figures.map((f) => f.id)).toEqual([
        "fig-stall",
        "fig-stall-cache",
        "fig-hit-cache",
        "fig-throughput",
        "fig-prefetch",
        "fig-s",
        "fig-heat"
      ])
      for (const f of figures) {
        expect(f.marks).toBeGreaterThan(0)
        expect(await page.locator(`#${f.id} ${f.selector}`).count()).toBe(f.marks)
      }
      expect(await page.locator("#metrics tbody tr").count()).toBe(18)
      await page.locator("#metrics th", { hasText: "stall %" }).click()
      expect(errors).toEqual([])
      expect(requests).toEqual([])
      mkdirSync(join(repoRoot, "test-artifacts"), { recursive: true })
      await page.screenshot({ path: join(repoRoot, "test-artifacts", "report.png"), fullPage: true })
    } finally {
      await browser.close()
    }
    expect(readFileSync(html, "utf8")).not.toMatch(/<script[^>]+src=|<link[^>]+href=/)
  })
})
