// Engine.IO echo exerciser, run by the Python tests with the official engine.io-client@6.
// usage: node eio_echo.js '<json options>'
//   {url, transports, upgrade, count, binary, timeoutMs}
// Sends `count` text and `count` binary messages, checks each echo arrives once and in order,
// prints one JSON line with the outcome.
const { Socket } = require("engine.io-client");
const opts = JSON.parse(process.argv[2] || "{}");
const count = opts.count ?? 100;
const socket = new Socket(opts.url, {
  transports: opts.transports ?? ["polling", "websocket"],
  upgrade: opts.upgrade ?? true,
});
const result = { transportAtOpen: null, transportAtEnd: null, textOk: 0, binOk: 0, errors: [], upgraded: false };
let nextText = 0, nextBin = 0, sentText = 0, sentBin = 0;
const timer = setTimeout(() => finish("timeout"), opts.timeoutMs ?? 30000);
function finish(why) {
  clearTimeout(timer);
  result.why = why;
  result.transportAtEnd = socket.transport ? socket.transport.name : null;
  console.log(JSON.stringify(result));
  socket.close();
  setTimeout(() => process.exit(0), 50);
}
socket.on("open", () => {
  result.transportAtOpen = socket.transport.name;
  if (opts.waitUpgrade) {
    socket.on("upgrade", () => { result.upgraded = true; start(); });
  } else {
    socket.on("upgrade", () => { result.upgraded = true; });
    start();
  }
});
function start() {
  // Send in bursts so polling carries many packets per payload and WebSocket many frames.
  function burst() {
    for (let i = 0; i < 50 && sentText < count; i++) {
      socket.send("t" + sentText++);
      if (opts.binary !== false) {
        const b = new Uint8Array(4);
        new DataView(b.buffer).setUint32(0, sentBin++);
        socket.send(b);
      }
    }
    if (sentText < count) setTimeout(burst, 0);
  }
  burst();
}
socket.on("message", (data) => {
  if (typeof data === "string") {
    if (data !== "t" + nextText) { result.errors.push("text " + data + " != t" + nextText); return finish("error"); }
    nextText++; result.textOk++;
  } else {
    const v = new DataView(data instanceof ArrayBuffer ? data : data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)).getUint32(0);
    if (v !== nextBin) { result.errors.push("bin " + v + " != " + nextBin); return finish("error"); }
    nextBin++; result.binOk++;
  }
  if (result.textOk === count && (opts.binary === false || result.binOk === count)) finish("done");
});
socket.on("close", (reason) => { if (!result.why) { result.closeReason = reason; finish("closed"); } });
socket.on("error", (e) => result.errors.push(String(e)));
