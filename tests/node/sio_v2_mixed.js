// socket.io-client@2 (Engine.IO v3 / Socket.IO v4, npm alias socket.io-client-v2) next to
// socket.io-client@4 on one server started with allow_eio3=True (the handlers of
// tests/socketio_core/server_helpers.py:build_app).
// usage: node sio_v2_mixed.js '{"url": "http://127.0.0.1:PORT", "timeoutMs": 20000}'
// Steps, each awaited (bounded by timeoutMs in all):
//   a v4 client connects and joins room "mixed";
//   "old" (v2, default transports) connects by polling (the transport it connected with is
//   recorded), upgrades to websocket (the "upgrade" event), emits echo with an ack, bin_echo
//   with a Buffer (binary both ways), joins "mixed", shouts to the room (text and binary);
//   then the v4 client shouts: both clients must receive all three room messages;
//   "poll" (v2, polling only) does bin_echo and receives a binary room broadcast over polling;
//   "old" connects to /refused (refused with data) and to /chat (echo with ack there).
// Prints one JSON line: {ok, error, ...what each client saw}. Binaries as {"$bin": base64}.
const ioV2 = require("socket.io-client-v2");
const { io: ioV4 } = require("socket.io-client");

const opts = JSON.parse(process.argv[2] || "{}");
const url = opts.url;
const result = { ok: false, error: null };
const clients = [];

function toWire(v) {
  if (v === null || v === undefined || typeof v !== "object") return v === undefined ? null : v;
  if (Buffer.isBuffer(v) || v instanceof ArrayBuffer || ArrayBuffer.isView(v)) {
    const buf = v instanceof ArrayBuffer ? Buffer.from(v) : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    return { $bin: buf.toString("base64") };
  }
  if (Array.isArray(v)) return v.map(toWire);
  const out = {};
  for (const k of Object.keys(v)) out[k] = toWire(v[k]);
  return out;
}

function finish(error) {
  result.error = error ? String(error && error.stack ? error.stack : error) : null;
  result.ok = !error;
  for (const c of clients) { try { c.close(); } catch (e) { /* ignore */ } }
  console.log(JSON.stringify(result));
  process.exit(0);
}
setTimeout(() => finish("timeout; see the partial result"), opts.timeoutMs || 20000);

function once(emitter, event) {
  return new Promise((resolve) => emitter.once(event, (...args) => resolve(args)));
}
function firstOf(emitter, events) {
  return new Promise((resolve) => {
    for (const e of events) emitter.once(e, (...args) => resolve([e, ...args]));
  });
}
function ack(socket, event, ...args) {
  return new Promise((resolve) => socket.emit(event, ...args, (...reply) => resolve(toWire(reply))));
}
function collect(socket, event, into) {
  socket.on(event, (...args) => into.push(toWire(args)));
}
async function until(predicate) {
  while (!predicate()) await new Promise((r) => setTimeout(r, 10));
}

async function main() {
  // The v4 client, in the room first.
  const v4 = ioV4(url, { transports: ["websocket"] });
  clients.push(v4);
  const v4Room = [];
  collect(v4, "room_msg", v4Room);
  await once(v4, "connect");
  result.v4Join = await ack(v4, "join", "mixed");

  // The v2 client: polling first, then the upgrade.
  const old = ioV2(url, { forceNew: true, reconnection: false });
  clients.push(old);
  const oldRoom = [];
  const welcome = [];
  collect(old, "room_msg", oldRoom);
  collect(old, "welcome", welcome);
  const upgraded = new Promise((resolve) => {
    old.io.on("open", () => {
      result.oldFirstTransport = old.io.engine.transport.name;
      old.io.engine.on("upgrade", (t) => resolve(t.name));
    });
  });
  const [how] = await firstOf(old, ["connect", "connect_error", "error"]);
  result.oldConnect = how;
  result.oldId = old.id;
  result.oldUpgradedTo = await upgraded;
  result.oldTransport = old.io.engine.transport.name;
  await until(() => welcome.length > 0);
  result.oldWelcome = welcome[0];
  result.oldEcho = await ack(old, "echo", "hi", 1, { a: [true, null] });
  result.oldBinEcho = await ack(old, "bin_echo", Buffer.from([1, 2, 3, 255]));
  result.oldJoin = await ack(old, "join", "mixed");
  result.oldShout = await ack(old, "shout", "mixed", "from old");
  result.oldShoutBinary = await ack(old, "shout", "mixed", { raw: Buffer.from([7, 0, 7]) });
  result.v4Shout = await ack(v4, "shout", "mixed", "from v4");
  await until(() => v4Room.length >= 3 && oldRoom.length >= 3);
  result.v4Room = v4Room;
  result.oldRoom = oldRoom;

  // A polling-only v2 client: binary payloads over long-polling, both ways.
  const poll = ioV2(url, { forceNew: true, reconnection: false, transports: ["polling"] });
  clients.push(poll);
  const pollRoom = [];
  collect(poll, "room_msg", pollRoom);
  await once(poll, "connect");
  result.pollBinEcho = await ack(poll, "bin_echo", Buffer.from([9, 8, 7]));
  result.pollJoin = await ack(poll, "join", "mixed");
  result.v4ShoutBinary = await ack(v4, "shout", "mixed", Buffer.from([4, 4]));
  await until(() => pollRoom.length >= 1 && oldRoom.length >= 4 && v4Room.length >= 4);
  result.pollRoom = pollRoom;
  result.pollTransport = poll.io.engine.transport.name;

  // Namespaces: a refusal with data (v4 CONNECT_ERROR form), and an accepted one.
  const refused = old.io.socket("/refused");
  const [refusedHow, refusedData] = await firstOf(refused, ["connect", "error"]);
  result.refused = [refusedHow, toWire(refusedData)];
  const chat = old.io.socket("/chat");
  await once(chat, "connect");
  result.chatId = chat.id;
  result.chatEcho = await ack(chat, "echo", "x");
  finish(null);
}

main().catch(finish);
