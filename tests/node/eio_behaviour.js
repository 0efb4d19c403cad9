// Engine.IO behaviour scenarios, run by the Python tests with the official engine.io-client@6.
// usage: node eio_behaviour.js '<json options>'
//   {url, transports, upgrade, waitUpgrade, scenario, timeoutMs}
// scenarios:
//   serverClose  send "close-me" once open; the server is expected to close the session
//   clientClose  send "bye", wait for its echo, then close from the client side
//   noPong       never answer the server's pings; the server is expected to time out
//   stay         answer pings as usual; finish once `untilPings` pings were received
// Prints one JSON line: {opened, transport, upgraded, pings, messages, closeReason, why}.
const { Socket } = require("engine.io-client");
const opts = JSON.parse(process.argv[2] || "{}");
const socket = new Socket(opts.url, {
  transports: opts.transports ?? ["polling", "websocket"],
  upgrade: opts.upgrade ?? true,
});
const result = { opened: false, transport: null, upgraded: false, pings: 0, messages: [], closeReason: null };
let done = false;
const timer = setTimeout(() => finish("timeout"), opts.timeoutMs ?? 15000);

function finish(why) {
  if (done) return;
  done = true;
  clearTimeout(timer);
  result.why = why;
  console.log(JSON.stringify(result));
  socket.close();
  // Exit once the client's last requests are done (over polling the CLOSE packet leaves in a
  // POST of its own, which a fixed delay could cut off on a loaded machine, so the server would
  // see a client that stopped answering); the unref'd timer only bounds it.
  setTimeout(() => process.exit(0), 5000).unref();
}

if (opts.scenario === "noPong") {
  // The client answers pings from _onPacket through _sendPacket("pong"): drop those.
  const send = socket._sendPacket.bind(socket);
  socket._sendPacket = (type, ...rest) => (type === "pong" ? undefined : send(type, ...rest));
}

function start() {
  result.transport = socket.transport.name;
  if (opts.scenario === "serverClose") socket.send("close-me");
  if (opts.scenario === "clientClose") socket.send("bye");
}

socket.on("open", () => {
  result.opened = true;
  if (opts.waitUpgrade) {
    socket.on("upgrade", () => { result.upgraded = true; start(); });
  } else {
    start();
  }
});
socket.on("ping", () => {
  result.pings++;
  if (opts.scenario === "stay" && result.pings >= (opts.untilPings ?? 3)) {
    result.transport = socket.transport.name;
    finish("pinged");
  }
});
socket.on("message", (data) => {
  result.messages.push(typeof data === "string" ? data : "<binary>");
  if (opts.scenario === "clientClose" && data === "bye") {
    result.transport = socket.transport.name;
    socket.close();
  }
});
socket.on("close", (reason, description) => {
  result.closeReason = reason;
  finish("closed");
});
socket.on("error", (e) => result.messages.push("error: " + String(e)));
