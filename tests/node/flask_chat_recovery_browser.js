// Connection state recovery in the chat example (examples/chat), in headless Chromium.
// usage: node flask_chat_recovery_browser.js '{"url": ..., "executablePath": "/usr/bin/chromium"}'
// ann and ben join room "red"; ben says "before" (ann sees it: she has an offset). ann's
// connection is cut (socket.io.engine.close(), reconnection held off); ben says "missed 1".."missed 5"
// and sees them himself; ann's connection is restored: she must be recovered (same sid) and
// show the five lines, in order, once each, then "after" said by ben.
// Prints one JSON line: {ok, error, ann: {recovered, sameSid, received, status, log}}.
const { chromium } = require("playwright-core");

const opts = JSON.parse(process.argv[2] || "{}");
const result = { ok: false, error: null, pageErrors: [] };
let browser = null;
const WAIT = { timeout: 15000 };

async function finish(error) {
  result.error = error || null;
  result.ok = !error;
  try { if (browser) await browser.close(); } catch (e) { /* teardown only */ }
  console.log(JSON.stringify(result));
  process.exit(0);
}
setTimeout(() => finish("timeout; see the partial result"), opts.timeoutMs || 45000);

async function open(name) {
  const page = await (await browser.newContext()).newPage();
  page.on("pageerror", (err) => result.pageErrors.push(name + ": " + String(err)));
  await page.goto(opts.url + "/?name=" + name + "&room=red", { waitUntil: "load" });
  await page.waitForFunction(() => window.chatState && window.chatState.connected, null, WAIT);
  await page.click("#join");
  await page.waitForFunction(() => window.chatState.joined === "red", null, WAIT);
  return page;
}
async function say(page, text) { await page.fill("#text", text); await page.click("#send"); }
async function waitReceived(page, line) {
  await page.waitForFunction((l) => window.chatState.received.some((m) => m.name + ": " + m.text === l), line, WAIT);
}

async function main() {
  browser = await chromium.launch({ executablePath: opts.executablePath || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"] });
  const ann = await open("ann");
  const ben = await open("ben");
  await say(ben, "before");
  await waitReceived(ann, "ben: before");
  const sidBefore = await ann.evaluate(() => socket.id);
  await ann.evaluate(() => { socket.io.reconnection(false); socket.io.engine.close(); });
  await ann.waitForFunction(() => !window.chatState.connected, null, WAIT);
  for (let i = 1; i <= 5; i++) await say(ben, "missed " + i);
  await waitReceived(ben, "ben: missed 5");
  await ann.evaluate(() => { socket.io.reconnection(true); socket.connect(); });
  await ann.waitForFunction(() => window.chatState.connected, null, WAIT);
  await say(ben, "after");
  await waitReceived(ann, "ben: after");
  result.ann = await ann.evaluate(() => ({
    recovered: window.chatState.recovered,
    sid: socket.id,
    received: window.chatState.received.map((m) => m.name + ": " + m.text),
    status: document.getElementById("status").textContent,
    log: Array.from(document.querySelectorAll("#log div")).map((d) => d.textContent),
  }));
  result.ann.sameSid = result.ann.sid === sidBefore;
}

main().then(() => finish(null), (err) => finish(String((err && err.stack) || err)));
