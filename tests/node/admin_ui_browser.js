// Drives the official Socket.IO Admin UI (@socket.io/admin-ui's ui/dist, served by the app at
// /admin-ui/) in headless Chromium (playwright-core, Debian's /usr/bin/chromium) against the
// chat example, with socket.io-client peers under node.
// usage: node admin_ui_browser.js '{"url": ..., "uiUrl": ..., "namespace": "/monitor",
//   "username": ..., "password": ..., "executablePath": ..., "screenshot": "path.png",
//   "peerUrl": optional second node's url (cluster: a client there must be listed too)}'
// Prints one JSON line with what the page and the peers saw.
const { chromium } = require("playwright-core");
const io = require("socket.io-client");

const opts = JSON.parse(process.argv[2] || "{}");
const base = opts.url;
const result = { ok: false, error: null, steps: [], pageErrors: [], badResponses: [] };
let browser = null;
const peers = [];

async function finish(error) {
  result.error = error || null;
  result.ok = !error;
  for (const p of peers) p.close();
  try { if (browser) await browser.close(); } catch (e) { /* teardown only */ }
  console.log(JSON.stringify(result));
  process.exit(0);
}
setTimeout(() => finish("timeout at step " + result.steps[result.steps.length - 1]), opts.timeoutMs || 80000);
const WAIT = { timeout: 15000 };

function step(name) { result.steps.push(name); }

function peer(url, name, room, transports) {
  return new Promise((resolve, reject) => {
    const s = io(url, { auth: { name }, transports: transports || ["polling", "websocket"], reconnection: false });
    peers.push(s);
    s.events = [];
    s.onAny((ev, ...args) => s.events.push([ev, ...args]));
    s.on("disconnect", (reason) => { s.disconnectReason = reason; });
    s.on("connect_error", reject);
    s.on("connect", () => s.emit("join", { name, room }, () => resolve(s)));
  });
}

function waitFor(fn, what, ms = 15000) {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const check = () => {
      if (fn()) return resolve();
      if (Date.now() - t0 > ms) return reject(new Error("timed out waiting for " + what));
      setTimeout(check, 50);
    };
    check();
  });
}

async function login(page, password) {
  await page.goto(opts.uiUrl, { waitUntil: "load" });
  await page.getByLabel("Server URL").fill(opts.serverUrl || base);
  await page.getByLabel("Username").fill(opts.username);
  await page.getByLabel("Password").fill(password);
  await page.getByText("Advanced options").click();
  await page.getByLabel("Admin namespace").fill(opts.namespace);
  await page.getByRole("button", { name: "Connect" }).click();
}

async function bodyText(page) { return page.evaluate(() => document.body.innerText); }

(async () => {
  step("peers");
  const ann = await peer(base, "ann", "red");                       // upgrades to WebSocket
  const ben = await peer(base, "ben", "blue", ["polling"]);          // stays on polling
  let remote = null;
  if (opts.peerUrl) remote = await peer(opts.peerUrl, "rex", "green"); // on the other node
  result.ids = { ann: ann.id, ben: ben.id, remote: remote && remote.id };
  await waitFor(() => ann.io.engine.transport.name === "websocket", "ann's upgrade");

  browser = await chromium.launch({ executablePath: opts.executablePath, args: ["--no-sandbox"] });
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.on("pageerror", (err) => result.pageErrors.push(String(err)));
  page.on("response", (r) => { if (r.status() >= 400) result.badResponses.push({ url: r.url(), status: r.status() }); });

  step("wrong password");
  await login(page, "not-the-password");
  await page.getByText("Invalid credentials").waitFor(WAIT);
  result.wrongPasswordText = (await bodyText(page)).includes("Invalid credentials");
  result.wrongPasswordConnected = await page.getByText(/^\s*connected\s*$/i).count() > 0;

  step("login");
  await login(page, opts.password);
  await page.getByText(/^\s*connected\s*$/i).first().waitFor(WAIT);
  await page.waitForFunction(() => !document.querySelector(".v-dialog--active"), null, WAIT);

  step("sockets");
  await page.goto(opts.uiUrl + "#/sockets");
  await page.getByText(ann.id).waitFor(WAIT);
  await page.getByText(ben.id).waitFor(WAIT);
  if (remote) await page.getByText(remote.id).waitFor(WAIT);
  const rows = await page.evaluate(() => Array.from(document.querySelectorAll("tbody tr")).map((tr) => tr.innerText.replace(/\s+/g, " ").trim()));
  result.socketRows = rows;

  step("new client");
  const cid = await peer(base, "cid", "red");
  result.ids.cid = cid.id;
  await page.getByText(cid.id).waitFor(WAIT);
  result.newClientListed = true;

  step("rooms of ann");
  await page.getByText(ann.id).click();
  await page.getByText("Join a room").waitFor(WAIT);
  await page.getByRole("cell", { name: "red", exact: true }).waitFor(WAIT);
  result.annDetails = await bodyText(page);

  step("event view");
  ann.emit("chat", "hello admin");
  await page.goto(opts.uiUrl + "#/events");
  await page.getByText("chat", { exact: true }).first().waitFor(WAIT);
  result.eventsText = await bodyText(page);

  step("join via the UI");
  await page.goto(opts.uiUrl + "#/n/" + encodeURIComponent("/") + "/sockets/" + ann.id);
  await page.getByLabel("Join a room").fill("vip");
  await page.locator("form", { has: page.getByLabel("Join a room") }).locator("button").click();
  await page.getByRole("cell", { name: "vip", exact: true }).waitFor(WAIT).catch(async (e) => {
    result.joinPage = await bodyText(page);
    throw e;
  });
  // ann observes it: an emit to room "vip" (through the admin namespace's emit action) reaches it.
  const probe = io(opts.serverUrl || base + opts.namespace, { auth: { username: opts.username, password: opts.password }, reconnection: false });
  peers.push(probe);
  await new Promise((resolve, reject) => { probe.on("connect", resolve); probe.on("connect_error", reject); });
  probe.emit("emit", "/", "vip", "vip-news", "welcome");
  await waitFor(() => ann.events.some((e) => e[0] === "vip-news" && e[1] === "welcome"), "ann's vip-news");
  result.annGotVipNews = true;
  result.benGotVipNews = ben.events.some((e) => e[0] === "vip-news");

  step("disconnect via the UI");
  await page.goto(opts.uiUrl + "#/sockets");
  await page.waitForFunction((id) => document.querySelectorAll("tbody tr").length > 0 && document.body.innerText.includes(id), ben.id, WAIT);
  const row = page.locator("tbody tr", { hasText: ben.id }).first();
  await row.waitFor(WAIT);
  await row.locator("button").last().click();
  await waitFor(() => ben.disconnectReason !== undefined, "ben's disconnect");
  result.benDisconnectReason = ben.disconnectReason;
  await page.goto(opts.uiUrl + "#/sockets");
  await page.getByText(ann.id).first().waitFor(WAIT);
  await page.waitForFunction((id) => !document.body.innerText.includes(id), result.ids.ben, WAIT).catch(async (e) => {
    result.afterDisconnect = await bodyText(page);
    throw e;
  });
  result.annStillConnected = ann.connected;

  step("screenshot");
  await page.goto(opts.uiUrl + "#/");
  await page.waitForTimeout(opts.screenshotDelayMs || 2500);  // let a stats tick or two draw the charts
  result.dashboardText = await bodyText(page);
  if (opts.screenshot) await page.screenshot({ path: opts.screenshot });
  await finish(null);
})().catch((err) => finish(String(err && err.stack || err)));
