// Browser tests of `softmax demo`: the release binary serves the pages on a free port, and
// Debian's Chromium (headless, driven by playwright-core) uses them as a person would. Each
// number a page shows is compared with the JSON API's answer for the same input.
//
// Run alone: `npm ci --prefix tests/e2e && node --test tests/e2e/demo.test.mjs` (builds the
// release binary first; SOFTMAX_BIN=path skips the build, CHROMIUM=path picks the browser).
// Screenshots at 1280×800 and 390×844 go to target/e2e-screenshots/.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const SHOTS = join(ROOT, "target", "e2e-screenshots");
const VIEWPORTS = [
  { name: "desktop", width: 1280, height: 800 },
  { name: "phone", width: 390, height: 844 },
];
const PAGES = ["/", "/classifier", "/digit", "/explain"];
/** Each test's limit: a hung browser fails the run instead of stalling it. */
const LIMIT = { timeout: 90_000 };

let server;
let base;
let browser;

/** The release binary: SOFTMAX_BIN, or target/release/softmax after `cargo build --release`. */
function binary() {
  if (process.env.SOFTMAX_BIN) return process.env.SOFTMAX_BIN;
  execFileSync("cargo", ["build", "--release", "--quiet", "--bin", "softmax"], { cwd: ROOT, stdio: "inherit" });
  return join(ROOT, "target", "release", "softmax");
}

/** Debian's Chromium: CHROMIUM, else the first of the usual paths, else `chromium` on PATH. */
function chromiumPath() {
  const candidates = [process.env.CHROMIUM, "/usr/bin/chromium", "/usr/bin/chromium-browser"];
  const found = candidates.find((path) => path && existsSync(path));
  if (found) return found;
  try {
    return execFileSync("sh", ["-c", "command -v chromium || command -v chromium-browser"]).toString().trim();
  } catch {
    throw new Error("Chromium not found: install Debian's `chromium` or set CHROMIUM=/path/to/chromium");
  }
}

/** Starts `softmax demo --port 0` and resolves to the address on its first line. */
function startServer(path) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(path, ["demo", "--port", "0"], { stdio: ["ignore", "pipe", "inherit"] });
    const timer = setTimeout(() => reject(new Error("the server printed no address in 30 s")), 30_000);
    child.on("error", reject);
    child.on("exit", (code) => reject(new Error(`the server exited with ${code}`)));
    createInterface({ input: child.stdout }).once("line", (line) => {
      clearTimeout(timer);
      const match = /^listening on (http:\/\/\S+)$/.exec(line);
      if (match) resolvePromise({ child, address: match[1] });
      else reject(new Error(`unexpected first line: ${line}`));
    });
  });
}

async function post(path, body) {
  const response = await fetch(base + path, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

/** A page at a viewport, failing the test on any script error. */
async function open(path, viewport = VIEWPORTS[0]) {
  const context = await browser.newContext({ viewport: { width: viewport.width, height: viewport.height } });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (error) => errors.push(error.message));
  page.on("console", (message) => { if (message.type() === "error") errors.push(message.text()); });
  await page.goto(base + path);
  return { page, errors, close: () => context.close() };
}

/** The full value behind a displayed number (its data-value), once it is there. */
async function shownValue(page, selector) {
  await page.waitForFunction((s) => document.querySelector(s)?.dataset.value !== undefined, selector);
  return Number(await page.locator(selector).getAttribute("data-value"));
}

before(async () => {
  const path = binary();
  const started = await startServer(path);
  server = started.child;
  base = started.address;
  browser = await chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    // CI runs as root, where Chromium's sandbox cannot start; the rest keeps it off the network.
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  mkdirSync(SHOTS, { recursive: true });
});

after(async () => {
  await browser?.close();
  server?.removeAllListeners("exit");
  server?.kill();
});

test("the index links to every page, from the keyboard too", LIMIT, async () => {
  const { page, errors, close } = await open("/");
  const links = await page.locator("main a").evaluateAll((as) => as.map((a) => a.getAttribute("href")));
  assert.deepEqual(links, ["/classifier", "/digit", "/explain"]);
  await page.locator("main a").first().focus();
  await page.keyboard.press("Enter");
  await page.waitForURL(base + "/classifier");
  assert.deepEqual(errors, []);
  await close();
});

test("one step lowers the loss, and the page shows the API's loss for the new parameters", LIMIT, async () => {
  const { page, errors, close } = await open("/classifier");
  const before = await shownValue(page, "#loss-total");
  const initial = await post("/api/preset", { name: "cs231n" });
  const problem = { ...initial.body, loss: "softmax", reg: 0.1, reg_convention: "half" };
  assert.equal((await post("/api/loss", problem)).body.loss, before, "the starting loss");

  const stepped = page.waitForResponse((r) => r.url().endsWith("/api/step"));
  await page.locator("#one-step").focus();
  await page.keyboard.press("Enter"); // a real button, so the keyboard works
  const answer = await (await stepped).json();
  await page.waitForFunction((b) => Number(document.querySelector("#loss-total").dataset.value) !== b, before);
  const after = await shownValue(page, "#loss-total");
  assert.ok(after < before, `the loss fell: ${before} → ${after}`);
  const api = await post("/api/loss", { ...problem, weights: answer.weights, bias: answer.bias });
  assert.equal(api.status, 200);
  assert.equal(after, api.body.loss, "the shown loss is the API's for the stepped W and b");
  assert.equal(await page.locator("#step-count").textContent(), "1");
  assert.equal(await page.locator("#param-0-0").inputValue(), answer.weights[0][0].toFixed(3));

  // Repeated steps keep lowering it; a click on the plane adds a point.
  await page.locator("#run").click();
  await page.waitForFunction(() => Number(document.querySelector("#step-count").textContent) >= 5);
  await page.locator("#run").click();
  assert.ok((await shownValue(page, "#loss-total")) < after);
  await page.locator("#arrows").check();
  await page.screenshot({ path: join(SHOTS, "classifier-stepped-1280x800.png"), fullPage: true });
  await page.locator("#plane").click({ position: { x: 40, y: 40 } });
  await page.waitForFunction(() => document.querySelectorAll("#points tbody tr").length === 10);
  assert.deepEqual(errors, []);
  await close();
});

test("a bad input shows the API's error and the page keeps working", LIMIT, async () => {
  const { page, errors, close } = await open("/classifier");
  await shownValue(page, "#loss-total");
  await page.locator("#reg").fill("-1");
  await page.waitForFunction(() => document.querySelector("#error").textContent.includes("reg"));
  await page.locator("#reg").fill("0.1");
  await page.waitForFunction(() => document.querySelector("#error").textContent === "");
  assert.deepEqual(errors.filter((e) => !e.includes("400")), []);
  await close();
});

test("drawing a stroke changes the bars, which sum to 1 and are the API's probabilities", LIMIT, async () => {
  const { page, errors, close } = await open("/digit");
  const bars = () => page.locator(".bar-fill").evaluateAll((fills) => fills.map((f) => Number(f.dataset.value)));
  await page.waitForFunction(() => document.querySelectorAll(".bar-fill").length === 10
    && Number(document.querySelector(".bar-fill").dataset.value) > 0);
  const blank = await bars();

  const box = await page.locator("#draw").boundingBox();
  const at = (fx, fy) => [box.x + fx * box.width, box.y + fy * box.height];
  await page.mouse.move(...at(0.5, 0.15));
  await page.mouse.down();
  for (let k = 1; k <= 10; k++) await page.mouse.move(...at(0.5, 0.15 + 0.07 * k));
  await page.mouse.up();
  await page.waitForFunction((b) => {
    const now = [...document.querySelectorAll(".bar-fill")].map((f) => Number(f.dataset.value));
    return now.some((p, j) => p !== b[j]);
  }, blank);
  await page.waitForLoadState("networkidle");
  const drawn = await bars();
  const sum = drawn.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(sum - 1) < 1e-12, `the bars sum to ${sum}`);
  assert.notDeepEqual(drawn, blank);

  const pixels = await page.evaluate(() => {
    const canvas = document.querySelector("#draw");
    const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    return { width: canvas.width, height: canvas.height, pixels: [...data].filter((_, i) => i % 4 === 3) };
  });
  const api = await post("/api/predict", pixels);
  assert.equal(api.status, 200);
  assert.deepEqual(drawn, api.body.probabilities, "the bars are the API's probabilities");
  await page.screenshot({ path: join(SHOTS, "digit-drawn-1280x800.png"), fullPage: true });

  // From the keyboard: the example button draws a 7, and Clear empties the drawing.
  await page.locator("#example").focus();
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.querySelector(".bar-fill.top")?.dataset.class === "7");
  await page.locator("#clear").focus();
  await page.keyboard.press("Enter");
  await page.waitForFunction((b) => {
    const now = [...document.querySelectorAll(".bar-fill")].map((f) => Number(f.dataset.value));
    return now.every((p, j) => p === b[j]);
  }, blank);
  assert.equal(await page.locator("#templates canvas").count(), 10);
  assert.deepEqual(errors, []);
  await close();
});

test("editing a number on the explain page recomputes the loss as the API does", LIMIT, async () => {
  const { page, errors, close } = await open("/explain");
  const before = await shownValue(page, "#explain-loss");
  const field = page.getByLabel("W[0][0]", { exact: true });
  await field.fill("0.5");
  await page.waitForFunction((b) => Number(document.querySelector("#explain-loss").dataset.value) !== b, before);
  const after = await shownValue(page, "#explain-loss");

  const problem = (await post("/api/explain/example", {})).body;
  problem.weights[0][0] = 0.5;
  const terms = { loss: "softmax", reg: 0.1, reg_convention: "half" };
  const explained = await post("/api/explain", { ...problem, ...terms });
  assert.equal(after, explained.body.loss, "the page shows /api/explain's loss");
  const library = await post("/api/loss", { ...problem, ...terms });
  assert.ok(Math.abs(after - library.body.loss) < 1e-12, `${after} vs loss_and_grad's ${library.body.loss}`);
  assert.match(await page.locator(".verdict").textContent(), /^✓/);
  assert.equal(await page.locator("#samples > section").count(), 2);

  // The svm loss, chosen from the keyboard, recomputes too.
  await page.locator("#loss").focus();
  await page.keyboard.press("ArrowDown");
  await page.waitForFunction(() => document.querySelector("#samples th")?.parentElement.textContent.includes("margin"));
  const svm = await post("/api/explain", { ...problem, ...terms, loss: "svm" });
  assert.equal(await shownValue(page, "#explain-loss"), svm.body.loss);
  assert.deepEqual(errors, []);
  await close();
});

test("every page fits 1280×800 and a 390 px phone (screenshots in target/e2e-screenshots)", LIMIT, async () => {
  for (const viewport of VIEWPORTS) {
    for (const path of PAGES) {
      const { page, errors, close } = await open(path, viewport);
      await page.waitForLoadState("networkidle");
      const name = path === "/" ? "index" : path.slice(1);
      await page.screenshot({ path: join(SHOTS, `${name}-${viewport.width}x${viewport.height}.png`), fullPage: true });
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `${path} at ${viewport.width} px is ${overflow} px too wide`);
      assert.deepEqual(errors, [], `${path} at ${viewport.width} px`);
      await close();
    }
  }
});
