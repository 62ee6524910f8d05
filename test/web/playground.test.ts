import assert from "node:assert/strict";
import { existsSync, mkdirSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { type Browser, chromium } from "playwright-core";
import { MODEL_ID, type TestServer, startTestServer } from "../helpers/testServer.js";

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = "test-artifacts";
const KEY = "sk-playground";

let srv: TestServer;
let browser: Browser;

describe(
  "playground in headless Chromium",
  { skip: !existsSync(CHROMIUM) && `needs ${CHROMIUM} (apt-get install chromium)` },
  () => {
    before(async () => {
      mkdirSync(ARTIFACTS, { recursive: true });
      srv = await startTestServer({ apiKeys: [KEY] });
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: [
          "--no-sandbox",
          "--disable-gpu",
          "--disable-quic",
          "--no-first-run",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
        ],
      });
    });
    after(async () => {
      await browser?.close();
      await srv?.close();
    });

    it("shows the model card, streams a reply with its usage and cost, and sends the chosen parameters", async () => {
      const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
      await page.goto(srv.url);
      assert.equal(await page.textContent("h1"), MODEL_ID);
      assert.equal(await page.textContent("#model-price"), "$0.03/$0.06 in/out Mtoken");
      assert.equal(await page.textContent("#model-context"), "2,048 tokens");
      assert.equal(await page.textContent("#model-quant"), "Q8_0");

      await page.fill("#api-key", KEY);
      await page.dispatchEvent("#api-key", "change");
      await page.fill("#temperature", "0.7");
      await page.fill("#max_tokens", "12");
      await page.fill("#seed", "42");
      await page.fill("#prompt", "Hello from the browser");
      const requestPromise = page.waitForRequest((r) => r.url().endsWith("/v1/openai/chat/completions"));
      await page.press("#prompt", "Enter"); // keyboard: Enter sends
      const request = await requestPromise;
      const body = JSON.parse(request.postData() ?? "{}");
      assert.equal(body.temperature, 0.7);
      assert.equal(body.max_tokens, 12);
      assert.equal(body.seed, 42);
      assert.equal(body.stream, true);
      assert.equal(request.headers().authorization, `Bearer ${KEY}`);

      const usage = await page.waitForSelector(".msg.assistant .usage", { timeout: 30_000 });
      assert.match((await usage.textContent()) ?? "", /^\d+ in \(\d+ cached\) · \d+ out · \$/);
      const reply = await page.$eval(".msg.assistant", (el) => el.firstChild?.textContent ?? "");
      assert.ok(reply.length > 0, "streamed text appears");
      assert.equal(await page.evaluate('localStorage.getItem("lunaris.apiKey")'), KEY);

      // The curl example carries the chosen parameters and this server's URL.
      const example = (await page.textContent("#example-code")) ?? "";
      assert.ok(example.includes(`${srv.url}/v1/openai/chat/completions`));
      assert.ok(example.includes('"temperature":0.7'));
      await page.screenshot({ path: `${ARTIFACTS}/playground.png`, fullPage: true });
    });

    it("labels every control and fits a phone-sized screen", async () => {
      const page = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true });
      await page.goto(srv.url);
      // Browser-side expressions as strings: the test's TypeScript has no DOM types.
      const unlabeled = await page.evaluate(
        '[...document.querySelectorAll("input, textarea")].filter((el) => el.labels.length === 0 && !el.getAttribute("aria-label")).map((el) => el.id)',
      );
      assert.deepEqual(unlabeled, []);
      const overflow = Number(await page.evaluate("document.documentElement.scrollWidth - window.innerWidth"));
      assert.ok(overflow <= 0, `page is ${overflow}px wider than the screen`);
      await page.screenshot({ path: `${ARTIFACTS}/playground-phone.png`, fullPage: true });
    });
  },
);
