// Drives the chat example (examples/chat) in headless Chromium with playwright-core (the
// driver library only; the browser is Debian's /usr/bin/chromium, installed by
// scripts/browser-setup.sh).
// usage: node flask_chat_browser.js '{"url": "http://127.0.0.1:PORT", "executablePath": "/usr/bin/chromium"}'
// Opens four pages: ann, ben and dee (polling only) in room "red", cid in room "blue".
// ann says something; ben and dee see it, cid does not; cid then says something that only
// cid sees (and so would have received ann's line first, had it been sent to him). A fifth
// page ("typed") opens without a name, types "eve" over the generated guestNNN, joins "green"
// and says something: the typed name is the one used.
// Prints one JSON line: {ok, error, pages: {name: {...}}, scriptResponses, badResponses,
//   consoleErrors, pageErrors}.
const { chromium } = require("playwright-core");

const opts = JSON.parse(process.argv[2] || "{}");
const base = opts.url;
const result = { ok: false, error: null, pages: {}, scriptResponses: [], badResponses: [],
                 consoleErrors: [], pageErrors: [] };
let browser = null;

async function finish(error) {
  result.error = error || null;
  result.ok = !error;
  try {
    if (browser) await browser.close();
  } catch (e) {
    // ignore: the result matters, not the teardown
  }
  console.log(JSON.stringify(result));
  process.exit(0);
}
setTimeout(() => finish("timeout; see the partial result"), opts.timeoutMs || 45000);

const WAIT = { timeout: 15000 };

async function openPage(context, name, room, transport) {
  const page = await context.newPage();
  page.on("console", (msg) => { if (msg.type() === "error") result.consoleErrors.push(name + ": " + msg.text()); });
  page.on("pageerror", (err) => result.pageErrors.push(name + ": " + String(err)));
  page.on("response", (resp) => {
    if (resp.url().endsWith(".js")) result.scriptResponses.push({ page: name, url: resp.url(), status: resp.status() });
    if (resp.status() >= 400) result.badResponses.push({ page: name, url: resp.url(), status: resp.status() });
  });
  let url = base + "/?name=" + encodeURIComponent(name) + "&room=" + encodeURIComponent(room);
  if (transport) url += "&transport=" + transport;
  await page.goto(url, { waitUntil: "load" });
  await page.waitForFunction(() => window.chatState && window.chatState.connected, null, WAIT);
  await page.click("#join");
  await page.waitForFunction((r) => window.chatState.joined === r, room, WAIT);
  return page;
}

async function say(page, text) {
  await page.fill("#text", text);
  await page.click("#send");
}

function receivedTexts(page) {
  return page.evaluate(() => window.chatState.received.map((m) => m.name + ": " + m.text));
}

async function waitReceived(page, line) {
  await page.waitForFunction(
    (l) => window.chatState.received.some((m) => m.name + ": " + m.text === l), line, WAIT);
}

async function main() {
  browser = await chromium.launch({
    executablePath: opts.executablePath || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
  // One context per page: separate cookies, as separate people would have.
  const open = async (name, room, transport) => openPage(await browser.newContext(), name, room, transport);
  const ann = await open("ann", "red");
  const ben = await open("ben", "red");
  const cid = await open("cid", "blue");
  const dee = await open("dee", "red", "polling");
  const pages = { ann, ben, cid, dee };

  await say(ann, "hello from ann");
  for (const p of [ann, ben, dee]) await waitReceived(p, "ann: hello from ann");
  await say(dee, "polling dee here");
  for (const p of [ann, ben, dee]) await waitReceived(p, "dee: polling dee here");
  await say(cid, "blue only");
  await waitReceived(cid, "cid: blue only");

  // A user who types a name instead of keeping the page's guestNNN: the typed name is used.
  const typed = await (await browser.newContext()).newPage();
  pages.typed = typed;
  typed.on("pageerror", (err) => result.pageErrors.push("typed: " + String(err)));
  await typed.goto(base + "/?room=green", { waitUntil: "load" });
  await typed.waitForFunction(() => window.chatState && window.chatState.connected, null, WAIT);
  result.typedDefaultName = await typed.inputValue("#name");
  await typed.fill("#name", "eve");
  await typed.click("#join");
  await typed.waitForFunction(() => window.chatState.joined === "green", null, WAIT);
  await say(typed, "typed my name");
  await waitReceived(typed, "eve: typed my name");

  // The second namespace (/admin) through the page's own button.
  await ann.click("#refresh");
  await ann.waitForFunction(() => /^\d+$/.test(document.getElementById("who").textContent), null, WAIT);

  // Let the non-polling pages finish their upgrade (the page records the transport).
  for (const p of [ann, ben, cid, pages.typed]) {
    await p.waitForFunction(() => window.chatState.transport === "websocket", null, WAIT);
  }

  for (const [name, page] of Object.entries(pages)) {
    result.pages[name] = await page.evaluate(() => ({
      connected: window.chatState.connected,
      joined: window.chatState.joined,
      transport: window.chatState.transport,
      status: document.getElementById("status").textContent,
      log: Array.from(document.querySelectorAll("#log div")).map((d) => d.textContent),
      who: document.getElementById("who").textContent,
      ioLoaded: typeof window.io === "function",
      scriptSrc: Array.from(document.scripts).filter((s) => s.src).map((s) => s.src),
    }));
    result.pages[name].received = await receivedTexts(page);
  }
}

main().then(() => finish(null), (err) => finish(String((err && err.stack) || err)));
