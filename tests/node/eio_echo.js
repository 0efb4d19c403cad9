// Engine.IO echo exerciser, run by the Python tests with the official engine.io-client@6.
// usage: node eio_echo.js '<json options>'
//   {url, transports, upgrade, count, binary, timeoutMs, pad}
// `pad` > 0 makes every message larger: text "t<i>-" + pad "x"s, binary 4 + pad bytes.
// Sends `count` text and `count` binary messages, checks each echo arrives once and in order,
// prints one JSON line with the outcome.
const { Socket } = require("engine.io-client");
const opts = JSON.parse(process.argv[2] || "{}");
const count = opts.count ?? 100;
const pad = opts.pad ?? 0;
const padding = pad ? "-" + "x".repeat(pad) : "";
const textOf = (i) => "t" + i + padding;
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
  // The extensions the server accepted on the WebSocket (node `ws`), e.g. "permessage-deflate".
  result.wsExtensions = socket.transport && socket.transport.ws ? socket.transport.ws.extensions : null;
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
      socket.send(textOf(sentText++));
      if (opts.binary !== false) {
        const b = new Uint8Array(4 + pad);
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
    if (data !== textOf(nextText)) { result.errors.push("text " + data.slice(0, 20) + " != t" + nextText); return finish("error"); }
    nextText++; result.textOk++;
  } else {
    const buf = data instanceof ArrayBuffer ? data : data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
    const v = new DataView(buf).getUint32(0);
    if (buf.byteLength !== 4 + pad) { result.errors.push("bin length " + buf.byteLength); return finish("error"); }
    if (v !== nextBin) { result.errors.push("bin " + v + " != " + nextBin); return finish("error"); }
    nextBin++; result.binOk++;
  }
  if (result.textOk === count && (opts.binary === false || result.binOk === count)) finish("done");
});
socket.on("close", (reason) => { if (!result.why) { result.closeReason = reason; finish("closed"); } });
socket.on("error", (e) => result.errors.push(String(e)));
