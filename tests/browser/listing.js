// The serve listing page in headless Chromium, driven by playwright-core (npm).
// Run by tests/serve.rs::serve_listing_page_in_chromium with
//   LISTING_URL   a server with --upload --mkdir --max-body 64K over the test folder
//   TOKEN_URL     a server with --upload --token secret-token over another folder
//   SHOTS         where screenshots go (target/screenshots)
// Prints "ok NAME" per check; any failure throws (exit code 1).
"use strict";
const path = require("path");
const { execSync } = require("child_process");
const root = execSync("npm root -g").toString().trim();
const { chromium } = require(path.join(root, "playwright-core"));

const base = process.env.LISTING_URL;
const tokenUrl = process.env.TOKEN_URL;
const shots = process.env.SHOTS;
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";

function check(cond, what, detail) {
  if (!cond) throw new Error(`FAILED: ${what}${detail === undefined ? "" : ": " + JSON.stringify(detail)}`);
  console.log(`ok ${what}`);
}

/// A page that records script errors, dialogs, CSP violations and every request.
async function open(browser, opts) {
  const context = await browser.newContext(opts);
  const page = await context.newPage();
  const seen = { errors: [], dialogs: [], violations: [], requests: [] };
  page.on("pageerror", (e) => seen.errors.push(String(e)));
  page.on("dialog", (d) => { seen.dialogs.push(d.message()); d.dismiss(); });
  page.on("console", (m) => { if (m.type() === "error") seen.errors.push(m.text()); });
  page.on("request", (r) => seen.requests.push(r.url()));
  await context.addInitScript(() => {
    window.__errors = [];
    window.addEventListener("error", (e) => window.__errors.push(String(e.message)));
    document.addEventListener("securitypolicyviolation", (e) => window.__errors.push("csp " + e.violatedDirective + " " + e.blockedURI));
  });
  return { context, page, seen };
}

async function names(page) {
  return page.$$eval("tbody tr:not(.up)", (rows) => rows.filter((r) => !r.hidden).map((r) => r.cells[0].textContent));
}

/// Drop `files` ([name, text]) on the page as a person dragging them from a file manager would.
async function drop(page, files) {
  await page.evaluate((files) => {
    const dt = new DataTransfer();
    for (const [name, text] of files) dt.items.add(new File([text], name, { type: "text/plain" }));
    document.body.dispatchEvent(new DragEvent("dragover", { dataTransfer: dt, bubbles: true, cancelable: true }));
    document.body.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, files);
}

async function message(page) {
  await page.waitForSelector("#msg:not([hidden])", { timeout: 10000 });
  return page.textContent("#msg");
}

(async () => {
  const browser = await chromium.launch({ executablePath, args: ["--no-sandbox", "--disable-gpu"] });
  try {
    // 1100x700, light: the README, sorting, the filter.
    let { context, page, seen } = await open(browser, { viewport: { width: 1100, height: 700 }, colorScheme: "light" });
    await page.goto(base);
    await page.screenshot({ path: `${shots}/listing-1100x700-light.png` });
    check((await page.textContent("#readme h1")) === "Project files", "the README is rendered under the listing");
    const readme = await page.textContent("#readme");
    check(readme.includes("<script>window.__xss=1</script>"), "the README's <script> shows as text", readme);
    check(readme.includes("<img src=x onerror=window.__xss=2>"), "the README's <img onerror> shows as text", readme);
    check((await page.$$("#readme script, #readme img")).length === 0, "no element came from the README's HTML");
    const initial = await names(page);
    check(initial.indexOf("report-2.pdf") >= 0 && initial.indexOf("report-2.pdf") < initial.indexOf("report-10.pdf"),
      "natural order: report-2 before report-10", initial);
    check(initial[0] === "docs/" && initial[1] === "photos/", "folders first", initial);
    await page.click("th.s a");
    await page.waitForURL(/sort=size/);
    const bytes = await page.evaluate(() => Array.from(document.querySelectorAll("tbody tr:not(.up)")).filter((r) => !r.cells[0].textContent.endsWith("/")).map((r) => r.cells[0].textContent));
    check(JSON.stringify(bytes) === JSON.stringify(JSON.parse(process.env.BY_SIZE)), "clicking Size sorts by size, smallest first", bytes);
    await page.click("th.s a");
    await page.waitForURL(/order=desc/);
    const desc = (await names(page)).filter((n) => !n.endsWith("/"));
    check(JSON.stringify(desc) === JSON.stringify(JSON.parse(process.env.BY_SIZE).reverse()), "clicking Size again sorts largest first", desc);
    await page.goto(base);
    await page.fill("#filter", "report");
    const filtered = await names(page);
    check(JSON.stringify(filtered) === JSON.stringify(["report-2.pdf", "report-10.pdf"]), "the filter narrows the rows as one types", filtered);
    check((await page.textContent("tfoot")).includes("2 of"), "the footer says how many rows are shown");
    await page.fill("#filter", "");

    // Drag-and-drop of two files, then errors in words (409, 413), then a new folder.
    await Promise.all([page.waitForNavigation(), drop(page, [["drop-one.txt", "first dropped file\n"], ["drop-two.txt", "second dropped file\n"]])]);
    const after = await names(page);
    check(after.includes("drop-one.txt") && after.includes("drop-two.txt"), "two dropped files appear in the listing", after);
    await drop(page, [["notes.txt", "again"]]);
    let m = await message(page);
    check(/409/.test(m) && /exists/.test(m), "a 409 is shown on the page in words", m);
    await drop(page, [["big.bin", "x".repeat(200 * 1024)]]);
    m = await message(page);
    check(/413|max-body/.test(m), "a 413 is shown on the page in words", m);
    await page.fill("input[name=mkdir]", "new folder");
    await Promise.all([page.waitForNavigation(), page.click("text=Create folder")]);
    check((await names(page)).includes("new folder/"), "a folder created from the page appears");
    await page.fill("input[name=mkdir]", "new folder");
    await page.click("text=Create folder");
    m = await message(page);
    check(/409/.test(m), "creating it twice says 409 in words", m);
    await page.screenshot({ path: `${shots}/listing-after-upload-1100x700.png` });
    const errs = seen.errors.concat(await page.evaluate(() => window.__errors));
    check(errs.filter((e) => !/Failed to load resource/.test(e)).length === 0, "no script error and no CSP violation on the page", errs);
    check(seen.dialogs.length === 0, "no dialog was opened", seen.dialogs);
    const origin = new URL(base).origin;
    check(seen.requests.every((u) => u.startsWith(origin)), "nothing was requested from another origin", seen.requests);
    check((await page.evaluate(() => window.__xss)) === undefined, "no script from the README ran");
    await context.close();

    // Dark, and phone width light and dark: no horizontal scrolling.
    for (const [w, h, scheme] of [[1100, 700, "dark"], [375, 800, "light"], [375, 800, "dark"]]) {
      ({ context, page } = await open(browser, { viewport: { width: w, height: h }, colorScheme: scheme, isMobile: w < 500, hasTouch: w < 500 }));
      await page.goto(base);
      await page.screenshot({ path: `${shots}/listing-${w}x${h}-${scheme}.png`, fullPage: w < 500 });
      const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      check(scheme === "dark" ? bg === "rgb(13, 17, 23)" : bg === "rgb(255, 255, 255)", `${scheme} theme at ${w}px`, bg);
      const sw = await page.evaluate(() => document.documentElement.scrollWidth);
      check(sw <= w, `no horizontal scrolling at ${w}px (${scheme})`, sw);
      await context.close();
    }

    // Without JavaScript: browsing and sorting still work.
    ({ context, page } = await open(browser, { viewport: { width: 1100, height: 700 }, javaScriptEnabled: false }));
    await page.goto(base);
    await page.click("th.s a");
    await page.waitForURL(/sort=size/);
    const nojs = (await names(page)).filter((n) => !n.endsWith("/") && !n.startsWith("drop-"));
    check(nojs.length > 0 && nojs[0] === JSON.parse(process.env.BY_SIZE)[0], "without JavaScript the Size link sorts too", nojs);
    await page.click("text=docs/");
    check((await names(page)).includes("guide.txt"), "without JavaScript a folder link opens it");
    await context.close();

    // 401: the page was opened with the token, the upload is sent without it.
    ({ context, page } = await open(browser, { viewport: { width: 1100, height: 700 } }));
    await page.route("**/*", (route) => {
      const r = route.request();
      if (r.isNavigationRequest()) route.continue({ headers: { ...r.headers(), authorization: "Bearer secret-token" } });
      else route.continue();
    });
    await page.goto(tokenUrl);
    await drop(page, [["denied.txt", "no"]]);
    m = await message(page);
    check(/401/.test(m) && /credentials/.test(m), "a 401 is shown on the page in words", m);
    await context.close();
  } finally {
    await browser.close();
  }
})().catch((e) => { console.error(e.stack || String(e)); process.exit(1); });
