// socket.io-client@2 (Engine.IO v3) and @4 in headless Chromium against tests/browser/eio3_app.py
// (a Flask-SocketIO app with allow_eio3=True), driven with playwright-core.
// usage: node eio3_browser.js '{"url": "http://127.0.0.1:PORT", "executablePath": "/usr/bin/chromium"}'
// Pages: "new" (client 4) joins room "mixed"; "old" (client 2) connects by polling, upgrades,
// echoes with an ack, sends and receives binary, joins "mixed"; "poll" (client 2, polling only)
// echoes binary over long-polling and joins "mixed". "old" shouts text, "new" shouts binary:
// every page must receive both. Prints one JSON line: {ok, error, pages, pageErrors, consoleErrors}.
const { chromium } = require("playwright-core");

const opts = JSON.parse(process.argv[2] || "{}");
const result = { ok: false, error: null, pages: {}, pageErrors: [], consoleErrors: [] };
let browser = null;

async function finish(error) {
  result.error = error ? String(error.stack || error) : null;
  result.ok = !error;
  try { if (browser) await browser.close(); } catch (e) { /* the result matters */ }
  console.log(JSON.stringify(result));
  process.exit(0);
}
setTimeout(() => finish("timeout; see the partial result"), opts.timeoutMs || 45000);

// Runs in the page: connect, then expose helpers on window.t.
function pageSetup(args) {
  const [transports] = args;
  const bin = (v) => (v instanceof ArrayBuffer ? { bin: Array.from(new Uint8Array(v)) } : v);
  const t = (window.t = { room: [], events: [] });
  const options = { reconnection: false, forceNew: true };
  if (transports) options.transports = transports;
  const s = (t.socket = io(location.origin, options));
  s.on("room_msg", (...a) => t.room.push(a.map(bin)));
  // Listened for from the Engine.IO open on: the upgrade may complete before "connect" is seen.
  t.upgraded = new Promise((resolve) => s.io.on("open", () => s.io.engine.on("upgrade", (tr) => resolve(tr.name))));
  t.ack = (event, ...a) => new Promise((resolve) => s.emit(event, ...a, (...r) => resolve(r.map(bin))));
  return new Promise((resolve) => {
    s.on("connect", () => resolve({ connected: true, transport: s.io.engine.transport.name }));
    s.on("connect_error", (e) => resolve({ connected: false, error: String(e) }));
  });
}

async function open(name, script, transports) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on("pageerror", (err) => result.pageErrors.push(name + ": " + String(err)));
  page.on("console", (msg) => { if (msg.type() === "error") result.consoleErrors.push(name + ": " + msg.text()); });
  await page.goto(opts.url + "/", { waitUntil: "load" });
  await page.addScriptTag({ url: opts.url + "/" + script });
  const info = (result.pages[name] = await page.evaluate(pageSetup, [transports || null]));
  if (!info.connected) throw new Error(name + " did not connect: " + info.error);
  return page;
}

async function main() {
  browser = await chromium.launch({
    executablePath: opts.executablePath || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  const fresh = await open("new", "v4.js", ["websocket"]);
  result.pages.new.join = await fresh.evaluate(() => t.ack("join", "mixed"));

  const old = await open("old", "v2.js");
  result.pages.old.upgradedTo = await old.evaluate(() => t.upgraded);
  result.pages.old.echo = await old.evaluate(() => t.ack("echo", "hi", 2, { z: [null] }));
  result.pages.old.binEcho = await old.evaluate(() => t.ack("bin_echo", new Uint8Array([1, 2, 250]).buffer));
  result.pages.old.join = await old.evaluate(() => t.ack("join", "mixed"));

  const poll = await open("poll", "v2.js", ["polling"]);
  result.pages.poll.binEcho = await poll.evaluate(() => t.ack("bin_echo", new Uint8Array([7, 7]).buffer));
  result.pages.poll.join = await poll.evaluate(() => t.ack("join", "mixed"));

  result.pages.old.shout = await old.evaluate(() => t.ack("shout", "mixed", "from old"));
  result.pages.new.shout = await fresh.evaluate(() => t.ack("shout", "mixed", new Uint8Array([5, 6]).buffer));
  for (const [name, page] of [["new", fresh], ["old", old], ["poll", poll]]) {
    await page.waitForFunction(() => t.room.length >= 2, null, { timeout: 15000 });
    result.pages[name].room = await page.evaluate(() => t.room);
    result.pages[name].transportAtEnd = await page.evaluate(() => t.socket.io.engine.transport.name);
  }
  finish(null);
}

main().catch(finish);
