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
  ;(haveChromium ? it : it.skip)(
    "at 1024 and 1600 px: decision table first, every chart with its marks, no clipped text, no errors or requests",
    async () => {
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
        for (const width of [1024, 1600]) {
          const page = await browser.newPage({ viewport: { width, height: 900 } })
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
          // The decision comes first: the first section after the summary line is the decision table.
          const firstSection = await page.$eval("h1 ~ section, h1 ~ figure", (e) => e.id)
          expect(firstSection).toBe("decision")
          expect(await page.locator("#decision-table tbody tr").count()).toBe(6) // 2 traces × 3 cache sizes
          const figures = await page.$$eval("figure", (fs) =>
            fs.map((f) => ({ id: f.id, marks: Number(f.dataset.marks), selector: f.dataset.markSelector! }))
          )
          expect(figures.map((f) => f.id)).toEqual([
            "fig-relative",
            "fig-stall",
            "fig-throughput",
            "fig-stall-cache",
            "fig-hit-cache",
            "fig-prefetch",
            "fig-s",
            "fig-heat"
          ])
          for (const f of figures) {
            expect(f.marks).toBeGreaterThan(0)
            expect(await page.locator(`#${f.id} ${f.selector}`).count()).toBe(f.marks)
          }
          // No clipped text: every label inside its chart, every chart and table inside the page.
          const clipped = await page.evaluate(() => {
            const out: string[] = []
            const pageWidth = document.documentElement.clientWidth
            if (document.documentElement.scrollWidth > pageWidth) out.push(`page scrolls sideways at ${pageWidth}px`)
            for (const svg of Array.from(document.querySelectorAll("figure svg"))) {
              const box = svg.getBoundingClientRect()
              if (box.right > pageWidth + 0.5) out.push(`${svg.closest("figure")!.id} wider than the page`)
              for (const t of Array.from(svg.querySelectorAll("text"))) {
                const r = t.getBoundingClientRect()
                if (t.textContent && (r.left < box.left - 1 || r.right > box.right + 1 || r.top < box.top - 1))
                  out.push(`${svg.closest("figure")!.id}: '${t.textContent}' outside its chart`)
                if (t.textContent?.endsWith("…")) out.push(`${svg.closest("figure")!.id}: '${t.textContent}' cut`)
              }
            }
            const decision = document.querySelector("#decision .wide") as HTMLElement
            if (decision.scrollWidth > decision.clientWidth) out.push("the decision table needs sideways scrolling")
            return out
          })
          expect(clipped).toEqual([])
          expect(await page.locator("#metrics tbody tr").count()).toBe(18)
          await page.locator("#metrics th", { hasText: "stall %" }).click()
          expect(errors).toEqual([])
          expect(requests).toEqual([])
          mkdirSync(join(repoRoot, "test-artifacts"), { recursive: true })
          await page.screenshot({ path: join(repoRoot, "test-artifacts", `report-${width}.png`), fullPage: true })
          await page.close()
        }
      } finally {
        await browser.close()
      }
      expect(readFileSync(html, "utf8")).not.toMatch(/<script[^>]+src=|<link[^>]+href=/)
    }
  )
})
