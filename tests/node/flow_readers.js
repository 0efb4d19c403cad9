// Flow control (issue 12): N readers that read as fast as node can, in one process.
// usage: node flow_readers.js '{"port": P, "clients": 1000, "count": 2000, "room": "room"}'
// Each reader is a bare WebSocket (the `ws` package) speaking Engine.IO v4 / Socket.IO v5 by
// hand (cheap, so the readers keep up): it answers PINGs, connects to "/", joins `room` (an
// event with an ack), then checks every "tick" [seq, padding]: seq must be 0, 1, 2... in order.
// Prints "READY {joined}" once every reader has joined, then "DONE {complete, bad, closed}"
// once every reader has its `count` ticks (or a reader failed): `bad` lists the first
// problems (lost, reordered), `closed` counts readers whose connection ended early, `maxGapMs`
// is the longest wait of any reader between two of its ticks (measured here, on the client).
// Only a tick's head is decoded (large ticks cost the readers no more than small ones).
const WebSocket = require("ws");

const opts = JSON.parse(process.argv[2] || "{}");
const n = opts.clients || 1000;
const count = opts.count || 2000;
const room = opts.room || "room";
const url = `ws://127.0.0.1:${opts.port}/socket.io/?EIO=4&transport=websocket`;
const deadline = setTimeout(() => finish("timeout"), opts.timeoutMs || 150000);

let joined = 0;
let complete = 0;
let closed = 0;
let maxGapMs = 0;
let gapAt = null;
const t0 = performance.now();
const bad = [];
let finished = false;

function finish(why) {
  if (finished) return;
  finished = true;
  clearTimeout(deadline);
  process.stdout.write("DONE " + JSON.stringify({ complete, bad: bad.slice(0, 10), closed, why, maxGapMs: Math.round(maxGapMs), gapAt }) + "\n");
  setTimeout(() => process.exit(0), 100);
}

function check() {
  if (complete + closed + bad.length >= n) finish("all");
}

function reader(i) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    let next = 0;
    let done = false;
    let last = 0;
    ws.on("message", (buf, isBinary) => {
      const text = isBinary ? "" : buf.length > 256 ? buf.toString("latin1", 0, 64) : buf.toString();
      if (text === "2") { ws.send("3"); return; }
      if (text.startsWith("0{")) { ws.send("40"); return; }
      if (text.startsWith("40{")) { ws.send(`420["join",${JSON.stringify(room)}]`); return; }
      if (text === "430[true]") { joined++; resolve(); return; }
      if (text.startsWith('42["tick",')) {
        const seq = parseInt(text.slice(10, text.indexOf(",", 10)), 10);
        if (seq !== next && !done) { bad.push({ i, expected: next, got: seq }); done = true; check(); return; }
        const now = performance.now();
        if (next > 0 && now - last > maxGapMs) {
          maxGapMs = now - last;
          gapAt = { i, seq, atMs: Math.round(now - t0) };
        }
        last = now;
        next++;
        if (next === count && !done) { done = true; complete++; check(); }
      }
    });
    ws.on("close", () => { if (!done) { done = true; closed++; check(); } resolve(); });
    ws.on("error", () => {});
  });
}

(async () => {
  const batch = 100;
  for (let i = 0; i < n; i += batch) {
    const group = [];
    for (let j = i; j < Math.min(n, i + batch); j++) group.push(reader(j));
    await Promise.all(group);
  }
  process.stdout.write("READY " + JSON.stringify({ joined }) + "\n");
})();
