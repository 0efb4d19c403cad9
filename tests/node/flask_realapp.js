// A fixed scenario against tests/flask_socketio/apps/realapp.py, with the official
// socket.io-client@4 (what a browser page of a Flask-SocketIO app does).
// usage: node flask_realapp.js '{"url": "http://127.0.0.1:PORT", "transports": [...]?}'
// Prints one JSON line with what the clients saw; the Python test asserts on it:
//   {ok, error, welcome, joinRooms, said: {alice, bob, carol}, sayAck, recall: {alice, bob},
//    nsReady, nsEcho, nsFail, shouted, tickAck, ticks, transport, serverTransport, refused}
const { io } = require("socket.io-client");

const opts = JSON.parse(process.argv[2] || "{}");
const url = opts.url;
const result = { ok: false, error: null, said: {}, recall: {} };
const sockets = [];

function finish(error) {
  result.error = error || null;
  result.ok = !error;
  for (const s of sockets) s.disconnect();
  console.log(JSON.stringify(result));
  process.exit(0);
}
setTimeout(() => finish("timeout; partial result above"), opts.timeoutMs || 20000);

function deadline(promise, what, ms) {
  return Promise.race([
    promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error("timed out waiting for " + what)), ms || 10000)),
  ]);
}

function client(name, auth, nsp) {
  const options = { forceNew: true, reconnection: false, auth };
  if (opts.transports) options.transports = opts.transports;
  const socket = io(url + (nsp || ""), options);
  sockets.push(socket);
  socket.events = [];
  socket.onAny((event, ...args) => socket.events.push([event, args]));
  return socket;
}

function connected(socket) {
  return new Promise((resolve, reject) => {
    if (socket.connected) return resolve();
    socket.once("connect", resolve);
    socket.once("connect_error", (err) => reject(new Error("connect_error: " + err.message)));
  });
}

function waitEvent(socket, event, count) {
  count = count || 1;
  const matching = () => socket.events.filter(([e]) => e === event);
  return new Promise((resolve) => {
    const check = () => {
      if (matching().length >= count) return resolve(matching().map(([, args]) => args));
      setTimeout(check, 5);
    };
    check();
  });
}

async function main() {
  const alice = client("alice", { name: "alice" });
  const bob = client("bob", { name: "bob" });
  const carol = client("carol", { name: "carol" });
  await deadline(Promise.all([connected(alice), connected(bob), connected(carol)]), "connect");
  result.welcome = (await deadline(waitEvent(alice, "welcome"), "welcome"))[0][0];
  result.welcomeMatchesId = result.welcome.sid === alice.id;

  // Rooms: alice and carol in red, bob in blue.
  result.joinRooms = await alice.emitWithAck("join", "red");
  await carol.emitWithAck("join", "red");
  await bob.emitWithAck("join", "blue");
  result.sayAck = await alice.emitWithAck("say", "red", "hello red");
  await deadline(Promise.all([waitEvent(alice, "said"), waitEvent(carol, "said")]), "red message");
  // bob's own message comes after the red one was emitted: had the red one been sent to him,
  // it would have arrived first on his connection.
  await bob.emitWithAck("say", "blue", "hello blue");
  await deadline(waitEvent(bob, "said"), "blue message");
  for (const [name, s] of [["alice", alice], ["bob", bob], ["carol", carol]]) {
    result.said[name] = s.events.filter(([e]) => e === "said").map(([, args]) => args[0].text);
  }

  // Managed session: per connection.
  await alice.emitWithAck("remember", 42);
  result.recall.alice = await new Promise((r) => alice.emit("recall", (...args) => r(args)));
  result.recall.bob = await new Promise((r) => bob.emit("recall", (...args) => r(args)));

  // A second namespace on alice's connection (class-based, with an error hook).
  const ns = alice.io.socket("/ns", {});
  sockets.push(ns);
  ns.events = [];
  ns.onAny((event, ...args) => ns.events.push([event, args]));  // (the Manager connects it)
  await deadline(connected(ns), "/ns connect");
  result.nsReady = (await deadline(waitEvent(ns, "ready"), "ready"))[0];
  result.nsEcho = await ns.emitWithAck("echo", { nested: [1, "two"] });
  result.nsFail = await ns.emitWithAck("fail");
  ns.emit("shout", "hey");
  result.shouted = (await deadline(waitEvent(ns, "shouted"), "shouted"))[0];

  // Server-initiated emits from a background task.
  result.tickAck = await alice.emitWithAck("ticks", 5);
  result.ticks = (await deadline(waitEvent(alice, "tick", 5), "ticks")).map((args) => args[0]);

  // Transport: after the upgrade (unless polling only), both sides agree.
  const wanted = opts.transports && opts.transports.length === 1 ? opts.transports[0] : "websocket";
  await deadline(new Promise((resolve) => {
    const check = () => (alice.io.engine.transport.name === wanted ? resolve() : setTimeout(check, 5));
    check();
  }), "transport " + wanted);
  result.transport = alice.io.engine.transport.name;
  result.serverTransport = await alice.emitWithAck("transport");

  // A refused connection: the ConnectionRefusedError's arguments reach the client.
  const bad = client("bad", { token: "bad" });
  result.refused = await deadline(new Promise((resolve) => {
    bad.once("connect_error", (err) => resolve({ message: err.message, data: err.data === undefined ? null : err.data }));
    bad.once("connect", () => resolve("connected"));
  }), "refusal");
}

main().then(() => finish(null), (err) => finish(String(err && err.stack || err)));
