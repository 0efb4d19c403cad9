// Socket.IO scenario runner for the Python tests, with the official socket.io-client@4.
// usage: node sio_client.js '<json options>'
//   {url, timeoutMs, steps: [step, ...]}
// Runs the steps in order and prints one JSON line:
//   {ok, error, sockets: {name: {connected, id, connectError, events, packets, disconnectReason}},
//    acks: {key: [args]}, bursts: {key: {...}}, crowd: {...}}
// Binary values cross the process boundary as {"$bin": base64} (both ways).
//
// Steps:
//   {op: "connect", name, nsp="/", auth, share, opts: {transports, parser: "msgpack", ...},
//    acks: {event: "echo" | {value: [args]}}}        wait for "connect" or "connect_error".
//        `share`: open the namespace on the Manager (the Engine.IO connection) of that socket.
//        `acks`: how this socket answers server emits that ask for an ack (else it never does).
//   {op: "emit", name, event, args=[], ack=false, key}  with ack: wait for it, store in acks[key].
//   {op: "burst", name, event, count, key}  `count` acked emits of (i) in flight at once; store
//        the first ack argument of each in bursts[key].values (index i).
//   {op: "wait", name, event, count=1}  until the socket has received `count` such events.
//   {op: "disconnect", name}             client-side disconnect (DISCONNECT packet).
//   {op: "waitDisconnect", name}          until the server disconnects the socket.
//   {op: "crowd", count, nsp="/", event, opts}  `count` clients (one connection each) connect at
//        once; each waits for connect and one `event`. crowd = {connected, welcomed, ordered,
//        errors}: `ordered` counts clients whose CONNECT ack arrived before `event`.
const { io } = require("socket.io-client");

const opts = JSON.parse(process.argv[2] || "{}");
const result = { ok: false, error: null, sockets: {}, acks: {}, bursts: {} };
const sockets = {};
const waiters = [];
let finished = false;

function isBin(v) {
  return Buffer.isBuffer(v) || v instanceof ArrayBuffer || ArrayBuffer.isView(v);
}
function toWire(v) {
  if (v === undefined) return { $undefined: true };
  if (v === null || typeof v !== "object") return v;
  if (isBin(v)) {
    const buf = v instanceof ArrayBuffer ? Buffer.from(v) : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    return { $bin: buf.toString("base64") };
  }
  if (Array.isArray(v)) return v.map(toWire);
  const out = {};
  for (const k of Object.keys(v)) out[k] = toWire(v[k]);
  return out;
}
function fromWire(v) {
  if (v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map(fromWire);
  if (v.$bin !== undefined) return Buffer.from(v.$bin, "base64");
  const out = {};
  for (const k of Object.keys(v)) out[k] = fromWire(v[k]);
  return out;
}

function changed() {
  for (let i = waiters.length - 1; i >= 0; i--) {
    if (waiters[i].pred()) {
      const w = waiters[i];
      waiters.splice(i, 1);
      w.resolve();
    }
  }
}
function until(pred) {
  if (pred()) return Promise.resolve();
  return new Promise((resolve) => waiters.push({ pred, resolve }));
}

function clientOptions(o) {
  const out = { forceNew: true, reconnection: false, ...(o || {}) };
  if (out.parser === "msgpack") out.parser = require("socket.io-msgpack-parser");
  return out;
}

function track(name, socket, acks, record) {
  record = record || { connected: false, id: null, connectError: null, events: [], packets: [], disconnectReason: null };
  socket.on("connect", () => { record.connected = true; record.id = socket.id; changed(); });
  socket.on("connect_error", (err) => {
    record.connectError = { message: err.message, data: err.data === undefined ? null : toWire(err.data) };
    changed();
  });
  socket.on("disconnect", (reason) => { record.connected = false; record.disconnectReason = reason; changed(); });
  socket.onAny((event, ...args) => {
    let ack = null;
    if (args.length && typeof args[args.length - 1] === "function") ack = args.pop();
    record.events.push([event, ...args.map(toWire)]);
    const how = acks && acks[event];
    if (ack && how) {
      if (how === "echo") ack(...args);
      else ack(...fromWire(how.value));
    }
    changed();
  });
  return record;
}

async function connect(step) {
  const nsp = step.nsp || "/";
  let socket;
  if (step.share) {
    // Manager.socket() opens the namespace at once (the Manager auto-connects).
    socket = sockets[step.share].io.socket(nsp, step.auth !== undefined ? { auth: step.auth } : {});
  } else {
    const o = clientOptions(step.opts);
    if (step.auth !== undefined) o.auth = step.auth;
    socket = io(opts.url + (nsp === "/" ? "" : nsp), o);
  }
  sockets[step.name] = socket;
  const record = track(step.name, socket, step.acks);
  result.sockets[step.name] = record;
  socket.io.on("packet", (p) => { if (p.nsp === nsp) record.packets.push(p.type); });
  await until(() => record.connected || record.connectError);
}

async function emit(step) {
  const socket = sockets[step.name];
  const args = fromWire(step.args || []);
  if (!step.ack) {
    socket.emit(step.event, ...args);
    return;
  }
  let done = false;
  socket.emit(step.event, ...args, (...res) => {
    result.acks[step.key || step.event] = res.map(toWire);
    done = true;
    changed();
  });
  await until(() => done);
}

async function burst(step) {
  const socket = sockets[step.name];
  const values = new Array(step.count).fill(null);
  let received = 0;
  let duplicates = 0;
  for (let i = 0; i < step.count; i++) {
    socket.emit(step.event, i, (value) => {
      if (values[i] !== null) duplicates++;
      values[i] = toWire(value);
      received++;
      changed();
    });
  }
  await until(() => received >= step.count);
  result.bursts[step.key || step.event] = { values, received, duplicates };
}

async function crowd(step) {
  const nsp = step.nsp || "/";
  const records = [];
  for (let i = 0; i < step.count; i++) {
    const socket = io(opts.url + (nsp === "/" ? "" : nsp), clientOptions(step.opts));
    const record = track("crowd" + i, socket, null);
    record.order = [];
    socket.io.on("packet", (p) => { if (p.nsp === nsp) record.order.push(p.type); });
    sockets["crowd" + i] = socket;
    records.push(record);
  }
  const welcomed = (r) => r.events.some((e) => e[0] === step.event);
  await until(() => records.every((r) => r.connectError || (r.connected && welcomed(r))));
  const ids = new Set(records.map((r) => r.id));
  result.crowd = {
    connected: records.filter((r) => r.connected).length,
    welcomed: records.filter(welcomed).length,
    // socket.io-parser packet types: 0 CONNECT, 2 EVENT.
    ordered: records.filter((r) => r.order.indexOf(0) !== -1 && r.order.indexOf(0) < r.order.indexOf(2)).length,
    distinctIds: ids.size,
    errors: records.filter((r) => r.connectError).map((r) => r.connectError),
    welcomes: records.map((r) => r.events.filter((e) => e[0] === step.event).map((e) => e.slice(1))),
    ids: records.map((r) => r.id),
  };
}

async function run() {
  for (let i = 0; i < opts.steps.length; i++) {
    const step = opts.steps[i];
    result.step = i;
    switch (step.op) {
      case "connect": await connect(step); break;
      case "emit": await emit(step); break;
      case "burst": await burst(step); break;
      case "wait": {
        const record = result.sockets[step.name];
        const count = step.count || 1;
        await until(() => record.events.filter((e) => e[0] === step.event).length >= count);
        break;
      }
      case "disconnect": sockets[step.name].disconnect(); break;
      case "waitDisconnect": {
        const record = result.sockets[step.name];
        await until(() => record.disconnectReason !== null);
        break;
      }
      case "crowd": await crowd(step); break;
      default: throw new Error("unknown step " + step.op);
    }
  }
}

function finish(error) {
  if (finished) return;
  finished = true;
  clearTimeout(timer);
  result.ok = !error;
  result.error = error || null;
  for (const record of Object.values(result.sockets)) {
    if (record.events.length > 200) record.events = record.events.slice(0, 200);
    if (record.packets.length > 50) record.packets = record.packets.slice(0, 50);
  }
  process.stdout.write(JSON.stringify(result) + "\n", () => {
    for (const socket of Object.values(sockets)) socket.disconnect();
    setTimeout(() => process.exit(0), 20);
  });
}

const timer = setTimeout(() => finish("timeout at step " + result.step), opts.timeoutMs || 20000);
run().then(() => finish(null), (e) => finish(String((e && e.stack) || e)));
