// Load generator for the end-to-end benchmarks (benchmarks/suite.py), with the official
// socket.io-client@4. One scenario per run:
//
//   node bench_load.js '<json options>'
//     {url, scenario: "echo" | "broadcast" | "connect", clients, transport: "websocket" | "polling",
//      client: "sio" | "raw", parser: "json" | "msgpack" (sio only), polling: "xhr" | "fetch" | "xhr-close", concurrency, warmupMs,
//      durationMs, timeoutMs, bursts, count, size, ackTimeoutMs}
//
//   client     "sio": the official socket.io-client@4 (every transport). "raw": the same Socket.IO
//              packets over a minimal WebSocket client on a TCP socket, or over hand-written
//              Engine.IO long-polling on two keep-alive HTTP/1.1 connections, all written here:
//              a fraction of the CPU per message, so the generator keeps headroom over a fast
//              server.
//
//   echo       `clients` sockets each run a closed loop: emit("echo", {...}) with an ack, and the
//              next emit as soon as the ack arrives (S1 over WebSocket, S4 over long-polling).
//   broadcast  `clients` sockets join one room; one of them asks the server `bursts` times to
//              emit `count` "bcast" events to the room, and each burst ends when every socket has
//              received every event (S2). Loss and order are checked per socket.
//   connect    `clients` WebSocket connections opened with at most `concurrency` in flight
//              (S3); then they stay idle until the driver writes a line on stdin, so it can read
//              the server's memory, and are closed.
//
// Output: JSON lines on stdout. {"event": "progress", ...} while it runs, {"event":
// "measure_start"} / {"event": "measure_end"} around the measured window (the driver samples
// the server's CPU there), {"event": "idle", ...} in the connect scenario, and last
// {"event": "result", ...} with the numbers, the errors and this process's own CPU use
// (`cpuPct`: percent of one core during the measured window), so a reader can tell whether
// the generator was the bottleneck. Every phase is bounded by `timeoutMs`.
const http = require("http");
const { io } = require("socket.io-client");
const { Fetch } = require("engine.io-client");
const crypto = require("crypto");
const net = require("net");

const opts = Object.assign(
  {
    url: "http://127.0.0.1:5000",
    scenario: "echo",
    clients: 50,
    transport: "websocket",
    concurrency: 50,
    warmupMs: 1000,
    durationMs: 5000,
    timeoutMs: 60000,
    bursts: 3,
    count: 50,
    size: 0,
    ackTimeoutMs: 10000,
    polling: "xhr",
    client: "sio",
  },
  JSON.parse(process.argv[2] || "{}"),
);

const started = Date.now();
const errors = {};
const sockets = [];
let unexpectedDisconnects = 0;
let closing = false;

function out(obj) {
  process.stdout.write(JSON.stringify(obj) + "\n");
}
function error(kind) {
  errors[kind] = (errors[kind] || 0) + 1;
}
function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
function nowMs() {
  return Number(process.hrtime.bigint()) / 1e6;
}
function cpuMs(usage) {
  return (usage.user + usage.system) / 1000;
}

// A hard bound on the whole run, whatever happens.
const hardStop = setTimeout(() => {
  out({ event: "result", ok: false, error: `generator timed out after ${opts.timeoutMs} ms`, errors });
  process.exit(2);
}, opts.timeoutMs);

const keepAliveAgent = new http.Agent({ keepAlive: true });

function onUnexpectedClose(reason) {
  if (!closing) {
    unexpectedDisconnects += 1;
    error(`disconnect: ${reason}`);
  }
}

// -- client "sio": the official socket.io-client ------------------------------------------------
function sioOptions() {
  const o = { forceNew: true, reconnection: false, timeout: 20000 };
  if (opts.transport === "polling") {
    // Keep-alive connections, as a browser has: the XHR shim with a keep-alive agent (the
    // default, and the cheapest for the generator), or fetch(). "xhr-close": one TCP
    // connection per request (the shim's own default).
    if (opts.polling === "fetch") {
      o.transports = [Fetch];
    } else {
      o.transports = ["polling"];
      if (opts.polling !== "xhr-close") o.agent = keepAliveAgent;
    }
  } else {
    o.transports = ["websocket"];
  }
  if (opts.parser === "msgpack") o.parser = require("socket.io-msgpack-parser");
  return o;
}

function connectSio() {
  return new Promise((resolve, reject) => {
    const socket = io(opts.url, sioOptions());
    const onError = (err) => {
      socket.off("connect", onConnect);
      socket.close();
      reject(err);
    };
    const onConnect = () => {
      socket.off("connect_error", onError);
      socket.on("disconnect", (reason) => {
        if (reason !== "io client disconnect") onUnexpectedClose(reason);
      });
      resolve({
        // cb(err, reply): the first argument of the ack
        call: (event, payload, cb) => socket.timeout(opts.ackTimeoutMs).emit(event, payload, cb),
        on: (event, fn) => socket.on(event, fn),
        onBcast: (fn) => socket.on("bcast", (data) => fn(data ? data.i : NaN)),
        close: () => socket.disconnect(),
        get connected() {
          return socket.connected;
        },
      });
    };
    socket.once("connect", onConnect);
    socket.once("connect_error", onError);
  });
}

// -- client "raw": Socket.IO v5 over an Engine.IO v4 WebSocket, by hand ---------------------------
// The same packets as socket.io-client puts on the wire for these scenarios (text packets, the
// main namespace), over the minimal WebSocket below, for a fraction of its CPU per message, so
// that the generator has headroom over the server. Ack timeouts are swept once a second
// instead of a timer per emit.
const rawSockets = new Set();
const BCAST_PREFIX = '42["bcast",{"i":';
const BCAST_BYTES = Buffer.from(BCAST_PREFIX);

// i of a 42["bcast",{"i":i,...}] payload (buf[start:end]) read from its bytes, or -1.
function bcastIndex(buf, start, end) {
  const n = BCAST_BYTES.length;
  if (end - start <= n) return -1;
  for (let k = 0; k < n; k++) if (buf[start + k] !== BCAST_BYTES[k]) return -1;
  let i = 0;
  let k = start + n;
  for (; k < end; k++) {
    const c = buf[k];
    if (c < 48 || c > 57) break;
    i = i * 10 + (c - 48);
  }
  return k > start + n ? i : -1;
}
let rawSweeper = null;

function sweepAcks() {
  const now = Date.now();
  for (const s of rawSockets) {
    for (const [id, pending] of s.acks) {
      if (pending.deadline <= now) {
        s.acks.delete(id);
        pending.cb(new Error("operation has timed out"));
      }
    }
  }
}

function parseIdAndData(text, from) {
  // `<id digits>[json]` after the packet type; returns [id or null, data array]
  let i = from;
  while (i < text.length && text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) i++;
  const id = i > from ? Number(text.slice(from, i)) : null;
  return [id, JSON.parse(text.slice(i))];
}

// A minimal RFC 6455 client over a TCP socket: the upgrade handshake (checking the
// Sec-WebSocket-Accept answer), masked text frames out, unmasked frames in (text, with
// continuation frames; ping answered with pong; close). Just what these scenarios need, and
// much cheaper per frame than a general-purpose library.
const WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
// Every socket reads into this one buffer (node's `onread`: no stream machinery, no buffer per
// read); what is left of a frame at the end of a read is copied out.
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);

class RawWebSocket {
  constructor(url, timeoutMs) {
    const u = new URL(url);
    this.open = false;
    this.onopen = () => {};
    this.onmessage = () => {};
    this.onframe = () => false; // (buf, start, end): a look at a text frame first, true if handled
    this.onclose = () => {};
    this.onerror = () => {};
    this._buf = null;
    this._frags = null;
    this._closed = false;
    const key = crypto.randomBytes(16).toString("base64");
    this._accept = crypto.createHash("sha1").update(key + WS_GUID).digest("base64");
    this._sock = net.connect({
      port: Number(u.port || 80),
      host: u.hostname,
      onread: { buffer: READ_BUFFER, callback: (n, buf) => this._data(buf.subarray(0, n)) },
    });
    this._sock.setNoDelay(true);
    this._timer = setTimeout(() => this._fail(new Error("handshake timed out")), timeoutMs);
    this._sock.on("connect", () => {
      this._sock.write(
        `GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\n` +
          `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    this._sock.on("error", (err) => this._fail(err));
    this._sock.on("close", () => this._gone("transport close"));
  }

  _fail(err) {
    clearTimeout(this._timer);
    if (!this._closed) {
      this._closed = true;
      this._sock.destroy();
      this.onerror(err);
      this.onclose(err.message);
    }
  }

  _gone(reason) {
    clearTimeout(this._timer);
    this.open = false;
    if (!this._closed) {
      this._closed = true;
      this.onclose(reason);
    }
  }

  _data(chunk) {
    let buf = this._buf === null ? chunk : Buffer.concat([this._buf, chunk]);
    this._buf = null;
    if (!this.open) {
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) {
        this._buf = Buffer.from(buf); // a copy: `buf` may be the shared read buffer
        return;
      }
      const head = buf.subarray(0, end).toString("latin1");
      const accept = /\r\nsec-websocket-accept:\s*(\S+)/i.exec(head);
      if (!head.startsWith("HTTP/1.1 101") || !accept || accept[1] !== this._accept) {
        this._fail(new Error(`upgrade refused: ${head.split("\r\n")[0]}`));
        return;
      }
      clearTimeout(this._timer);
      this.open = true;
      this.onopen();
      buf = buf.subarray(end + 4);
    }
    let off = 0;
    while (buf.length - off >= 2) {
      const b0 = buf[off];
      let len = buf[off + 1] & 0x7f;
      let start = off + 2;
      if (len === 126) {
        if (buf.length - off < 4) break;
        len = buf.readUInt16BE(off + 2);
        start = off + 4;
      } else if (len === 127) {
        if (buf.length - off < 10) break;
        len = Number(buf.readBigUInt64BE(off + 2));
        start = off + 10;
      }
      if (buf[off + 1] & 0x80) {
        this._fail(new Error("masked frame from the server"));
        return;
      }
      if (buf.length < start + len) break;
      off = start + len;
      this._frame(b0 & 0x80, b0 & 0x0f, buf, start, off);
      if (this._closed) return;
    }
    if (off < buf.length) this._buf = Buffer.from(buf.subarray(off)); // a copy, as above
  }

  _frame(fin, opcode, buf, start, end) {
    if (fin && this._frags === null && opcode === 1 && this.onframe(buf, start, end)) return;
    let payload = buf.subarray(start, end);
    if (opcode === 1 || opcode === 2 || opcode === 0) {
      if (!fin || this._frags !== null) {
        (this._frags = this._frags || []).push(Buffer.from(payload));
        if (!fin) return;
        payload = Buffer.concat(this._frags);
        this._frags = null;
      }
      this.onmessage(payload.toString());
    } else if (opcode === 9) {
      this._write(0x8a, payload); // ping -> pong
    } else if (opcode === 8) {
      if (this.open) this._write(0x88, payload.subarray(0, 2));
      this._sock.end();
      this._gone("server closed the WebSocket");
    }
  }

  _write(b0, payload) {
    const len = payload.length;
    const ext = len < 126 ? 0 : len < 65536 ? 2 : 8;
    const frame = Buffer.allocUnsafe(6 + ext + len);
    frame[0] = b0;
    if (ext === 0) frame[1] = 0x80 | len;
    else if (ext === 2) {
      frame[1] = 0x80 | 126;
      frame.writeUInt16BE(len, 2);
    } else {
      frame[1] = 0x80 | 127;
      frame.writeBigUInt64BE(BigInt(len), 2);
    }
    const m = 2 + ext;
    const mask = (Math.random() * 0x100000000) >>> 0; // a fresh masking key per frame
    frame.writeUInt32BE(mask, m);
    for (let i = 0; i < len; i++) frame[m + 4 + i] = payload[i] ^ frame[m + (i & 3)];
    this._sock.write(frame);
  }

  send(text) {
    if (this.open) this._write(0x81, Buffer.from(text));
  }

  close() {
    if (this.open) {
      this.open = false;
      const code = Buffer.alloc(2);
      code.writeUInt16BE(1000);
      this._write(0x88, code);
      this._sock.end();
    }
    this._closed = true;
    clearTimeout(this._timer);
  }
}

// The Socket.IO side of a raw client: acks, handlers, the CONNECT handshake, over whatever
// Engine.IO transport `send(text)` writes to. Returns the client object (what scenarios use)
// and `onPacket(text)` for each Engine.IO packet received.
function rawSession(send, closeTransport, resolve, reject) {
  if (!rawSweeper) rawSweeper = setInterval(sweepAcks, 1000);
  const handlers = new Map();
  let settled = false;
  const s = {
    acks: new Map(),
    nextId: 0,
    connected: false,
    bcast: null,
    onBcast(fn) {
      this.bcast = fn; // fn(i) for each "bcast" event {"i": i, ...}
    },
    call(event, payload, cb) {
      const id = this.nextId++;
      this.acks.set(id, { cb, deadline: Date.now() + opts.ackTimeoutMs });
      send(`42${id}${JSON.stringify([event, payload])}`);
    },
    on(event, fn) {
      handlers.set(event, fn);
    },
    close() {
      s.connected = false;
      rawSockets.delete(s);
      send("41");
      closeTransport();
    },
  };
  const fail = (err) => {
    if (!settled) {
      settled = true;
      reject(err);
    }
  };
  const onPacket = (text) => {
    const type = text.charCodeAt(0);
    if (type === 50) {
      send("3"); // ping -> pong
    } else if (type === 52) {
      const sio = text.charCodeAt(1);
      if (sio === 50) {
        // EVENT (the server asks for no ack here)
        const [, args] = parseIdAndData(text, 2);
        if (args[0] === "bcast" && s.bcast !== null) {
          s.bcast(args[1] ? args[1].i : NaN);
          return;
        }
        const fn = handlers.get(args[0]);
        if (fn) fn(...args.slice(1));
      } else if (sio === 51) {
        const [id, args] = parseIdAndData(text, 2); // ACK
        const pending = s.acks.get(id);
        if (pending) {
          s.acks.delete(id);
          pending.cb(null, ...args);
        } else {
          error("unexpected ack");
        }
      } else if (sio === 48) {
        s.connected = true; // CONNECT acknowledged
        rawSockets.add(s);
        settled = true;
        resolve(s);
      } else if (sio === 52) {
        fail(new Error(`connect refused: ${text.slice(2)}`)); // CONNECT_ERROR
      } else if (sio === 49) {
        s.connected = false; // DISCONNECT from the server
        onUnexpectedClose("server disconnect");
      }
    } else if (type === 48) {
      send("40"); // Engine.IO open -> Socket.IO CONNECT to "/"
    }
  };
  const onClose = (reason) => {
    rawSockets.delete(s);
    if (s.connected) {
      s.connected = false;
      onUnexpectedClose(reason);
    }
    fail(new Error(`closed before connect (${reason})`));
  };
  return { s, onPacket, onClose, fail };
}

function connectRaw() {
  return new Promise((resolve, reject) => {
    const url = opts.url.replace(/^http/, "ws") + "/socket.io/?EIO=4&transport=websocket";
    const ws = new RawWebSocket(url, 20000);
    const session = rawSession((text) => ws.send(text), () => ws.close(), resolve, reject);
    ws.onframe = (buf, start, end) => {
      if (session.s.bcast === null) return false;
      const i = bcastIndex(buf, start, end); // the broadcasts of S2, without building a string
      if (i < 0) return false;
      session.s.bcast(i);
      return true;
    };
    ws.onmessage = session.onPacket;
    ws.onerror = (err) => session.fail(err);
    ws.onclose = session.onClose;
  });
}

// -- client "raw" over long-polling: Engine.IO v4 polling by hand --------------------------------
// Two keep-alive HTTP/1.1 connections per client, as a browser uses: one carries the long-poll
// GETs, the other the POSTs. At most one POST is in flight (the protocol forbids concurrent
// POSTs); packets sent meanwhile go together in the next one, separated by \x1e.
class RawHttpConnection {
  constructor(url) {
    const u = new URL(url);
    this.host = u.host;
    this.queue = []; // [{head, resolve, reject}] in request order; one response each
    this.buf = null;
    this.closed = false;
    this.sock = net.connect({ port: Number(u.port || 80), host: u.hostname });
    this.sock.setNoDelay(true);
    this.sock.on("data", (chunk) => this._data(chunk));
    this.sock.on("error", (err) => this._fail(err));
    this.sock.on("close", () => this._fail(new Error("connection closed")));
  }

  request(method, path, body) {
    return new Promise((resolve, reject) => {
      if (this.closed) {
        reject(new Error("connection closed"));
        return;
      }
      const data = body === undefined ? null : Buffer.from(body);
      let head = `${method} ${path} HTTP/1.1\r\nHost: ${this.host}\r\n`;
      if (data !== null) head += `Content-Type: text/plain;charset=UTF-8\r\nContent-Length: ${data.length}\r\n`;
      this.queue.push({ resolve, reject });
      this.sock.write(data === null ? head + "\r\n" : Buffer.concat([Buffer.from(head + "\r\n"), data]));
    });
  }

  _data(chunk) {
    let buf = this.buf === null ? chunk : Buffer.concat([this.buf, chunk]);
    this.buf = null;
    for (;;) {
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) break;
      const head = buf.subarray(0, end).toString("latin1");
      const status = Number(head.slice(9, 12));
      const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      let body;
      let next;
      if (length) {
        const n = Number(length[1]);
        if (buf.length < end + 4 + n) break;
        body = buf.subarray(end + 4, end + 4 + n);
        next = end + 4 + n;
      } else if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
        const parts = [];
        let off = end + 4;
        let complete = false;
        for (;;) {
          const eol = buf.indexOf("\r\n", off);
          if (eol < 0) break;
          const size = parseInt(buf.subarray(off, eol).toString("latin1"), 16);
          if (size === 0) {
            if (buf.length < eol + 4) break;
            off = eol + 4;
            complete = true;
            break;
          }
          if (buf.length < eol + 2 + size + 2) break;
          parts.push(buf.subarray(eol + 2, eol + 2 + size));
          off = eol + 2 + size + 2;
        }
        if (!complete) break;
        body = Buffer.concat(parts);
        next = off;
      } else {
        this._fail(new Error(`response without a length: ${head.split("\r\n")[0]}`));
        return;
      }
      const waiter = this.queue.shift();
      if (waiter) waiter.resolve({ status, body: body.toString() });
      buf = buf.subarray(next);
    }
    if (buf.length) this.buf = Buffer.from(buf);
  }

  _fail(err) {
    if (this.closed) return;
    this.closed = true;
    this.sock.destroy();
    for (const waiter of this.queue.splice(0)) waiter.reject(err);
  }

  close() {
    this._fail(new Error("closed by the client"));
  }
}

function connectRawPolling() {
  return new Promise((resolve, reject) => {
    const base = "/socket.io/?EIO=4&transport=polling";
    const gets = new RawHttpConnection(opts.url);
    const posts = new RawHttpConnection(opts.url);
    let sid = null;
    let open = true;
    let outbox = [];
    let posting = false;
    const shut = () => {
      open = false;
      gets.close();
      posts.close();
    };
    const flush = () => {
      if (posting || outbox.length === 0 || !open) return;
      posting = true;
      const body = outbox.join("\x1e");
      outbox = [];
      posts.request("POST", `${base}&sid=${sid}`, body).then(
        (res) => {
          posting = false;
          if (res.status !== 200) {
            session.onClose(`POST answered ${res.status}`);
            shut();
            return;
          }
          flush();
        },
        (err) => {
          posting = false;
          if (open) {
            session.onClose(err.message);
            shut();
          }
        },
      );
    };
    const send = (text) => {
      outbox.push(text);
      flush();
    };
    const session = rawSession(send, () => {
      flush();
      open = false;
      setTimeout(shut, 50);
    }, resolve, reject);
    const poll = () => {
      if (!open) return;
      gets.request("GET", `${base}&sid=${sid}`).then(
        (res) => {
          if (res.status !== 200) {
            session.onClose(`poll answered ${res.status}`);
            shut();
            return;
          }
          for (const packet of res.body.split("\x1e")) {
            if (packet === "1") {
              session.onClose("server closed the session");
              shut();
              return;
            }
            if (packet !== "6") session.onPacket(packet);
          }
          poll();
        },
        (err) => {
          if (open) {
            session.onClose(err.message);
            shut();
          }
        },
      );
    };
    gets.request("GET", base).then(
      (res) => {
        if (res.status !== 200 || res.body[0] !== "0") throw new Error(`handshake answered ${res.status}`);
        sid = JSON.parse(res.body.slice(1)).sid;
        send("40");
        poll();
      },
    ).catch((err) => {
      shut();
      session.fail(err);
    });
  });
}

function connectOne() {
  if (opts.client !== "raw") return connectSio();
  if (opts.parser && opts.parser !== "json") throw new Error("the raw client speaks the JSON parser only");
  return opts.transport === "polling" ? connectRawPolling() : connectRaw();
}

// Open `n` connections with at most `concurrency` handshakes in flight.
async function connectMany(n, concurrency, onEach) {
  let next = 0;
  let done = 0;
  let lastReport = Date.now();
  async function worker() {
    while (next < n) {
      next += 1;
      try {
        const socket = await connectOne();
        sockets.push(socket);
        if (onEach) onEach(socket);
      } catch (err) {
        error(`connect_error: ${err && err.message}`);
      }
      done += 1;
      if (Date.now() - lastReport > 1000) {
        lastReport = Date.now();
        out({ event: "progress", phase: "connect", done, of: n });
      }
    }
  }
  const workers = [];
  for (let i = 0; i < Math.min(concurrency, n); i++) workers.push(worker());
  await Promise.all(workers);
}

function closeAll() {
  closing = true;
  for (const socket of sockets) socket.close();
  if (rawSweeper) clearInterval(rawSweeper);
  rawSweeper = null;
}

function callAsync(socket, event, payload) {
  return new Promise((resolve, reject) => socket.call(event, payload, (err, reply) => (err ? reject(err) : resolve(reply))));
}

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const idx = Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length));
  return sorted[idx];
}

// -- S1 / S4: closed-loop echo with acks --------------------------------------------------------
async function echoScenario() {
  await connectMany(opts.clients, opts.concurrency);
  if (sockets.length === 0) throw new Error("no client connected");
  let measuring = false;
  let stopping = false;
  let acks = 0;
  let mismatches = 0;
  let inFlight = 0;
  const latencies = [];
  const loop = (socket, index, seq) => {
    if (stopping) return;
    const sent = nowMs();
    const payload = { user: `client-${index}`, text: "hello", seq };
    inFlight += 1;
    socket.call("echo", payload, (err, reply) => {
      inFlight -= 1;
      if (err) {
        error("ack timeout");
      } else {
        if (!reply || reply.seq !== seq || reply.user !== payload.user) mismatches += 1;
        if (measuring) {
          acks += 1;
          latencies.push(nowMs() - sent);
        }
      }
      loop(socket, index, seq + 1);
    });
  };
  sockets.forEach((socket, index) => loop(socket, index, 0));
  await sleep(opts.warmupMs);
  out({ event: "measure_start" });
  measuring = true;
  const cpu0 = process.cpuUsage();
  const t0 = nowMs();
  const ticker = setInterval(() => {
    out({ event: "progress", phase: "measure", acks, elapsedMs: Math.round(nowMs() - t0) });
  }, 1000);
  await sleep(opts.durationMs);
  measuring = false;
  const elapsed = nowMs() - t0;
  const cpu = cpuMs(process.cpuUsage(cpu0));
  clearInterval(ticker);
  out({ event: "measure_end" });
  stopping = true;
  const drainUntil = Date.now() + 3000;
  while (inFlight > 0 && Date.now() < drainUntil) await sleep(10);
  if (inFlight > 0) error("acks still missing after the run");
  latencies.sort((a, b) => a - b);
  return {
    clients: sockets.length,
    acks,
    elapsedMs: elapsed,
    rate: (acks / elapsed) * 1000,
    unit: "acks/s",
    mismatches,
    latencyMs: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies[latencies.length - 1] ?? null },
    cpuPct: (cpu / elapsed) * 100,
  };
}

// -- S2: one room, bursts of broadcasts ---------------------------------------------------------
async function broadcastScenario() {
  const room = "bench";
  const perClient = [];
  let received = 0;
  let outOfOrder = 0;
  let burstDone = null;
  let expected = 0;
  await connectMany(opts.clients, opts.concurrency, (socket) => {
    const state = { next: 0 };
    perClient.push(state);
    socket.onBcast((i) => {
      if (i !== state.next) outOfOrder += 1;
      state.next = (Number.isInteger(i) ? i : state.next) + 1;
      received += 1;
      if (burstDone && received >= expected) {
        const done = burstDone;
        burstDone = null;
        done();
      }
    });
  });
  if (sockets.length === 0) throw new Error("no client connected");
  const joined = await Promise.all(sockets.map((socket) => callAsync(socket, "join", room).catch(() => false)));
  const notJoined = joined.filter((ok) => ok !== true).length;
  if (notJoined) error(`join not acked: ${notJoined}`);
  const members = sockets.length - notJoined;
  const trigger = sockets[0];
  let lost = 0;
  const burst = async () => {
    for (const state of perClient) state.next = 0;
    received = 0;
    expected = members * opts.count;
    const t0 = nowMs();
    const allIn = new Promise((resolve) => {
      burstDone = resolve;
    });
    const acked = callAsync(trigger, "broadcast", { room, count: opts.count, size: opts.size }).catch(() =>
      error("broadcast not acked"),
    );
    const timedOut = await Promise.race([
      allIn.then(() => false),
      sleep(opts.ackTimeoutMs).then(() => true),
    ]);
    const elapsed = nowMs() - t0;
    await acked;
    if (timedOut) {
      burstDone = null;
      lost += expected - received;
      error("burst incomplete");
    }
    return { elapsed, delivered: received };
  };
  await burst(); // warm-up
  out({ event: "measure_start" });
  const cpu0 = process.cpuUsage();
  const t0 = nowMs();
  const bursts = [];
  for (let b = 0; b < opts.bursts; b++) {
    const r = await burst();
    bursts.push(r.elapsed);
    out({ event: "progress", phase: "burst", burst: b + 1, of: opts.bursts, ms: Math.round(r.elapsed) });
    if (nowMs() - t0 > opts.durationMs) break;
  }
  const elapsed = nowMs() - t0;
  const cpu = cpuMs(process.cpuUsage(cpu0));
  out({ event: "measure_end" });
  const delivered = members * opts.count * bursts.length - lost;
  const busy = bursts.reduce((a, b) => a + b, 0);
  return {
    clients: sockets.length,
    members,
    bursts: bursts.length,
    perBurst: opts.count,
    deliveries: delivered,
    elapsedMs: busy,
    burstMs: bursts,
    rate: (delivered / busy) * 1000,
    unit: "deliveries/s",
    lost,
    outOfOrder,
    cpuPct: (cpu / elapsed) * 100,
  };
}

// -- S3: connects per second, then idle connections ---------------------------------------------
function waitForLine(ms) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    process.stdin.once("data", () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function connectScenario() {
  // Warm the server up with a few connections first (lazy imports, first-request work).
  await connectMany(Math.min(10, opts.clients), 10);
  closeAll();
  sockets.length = 0;
  closing = false;
  await sleep(300);
  out({ event: "measure_start" });
  const cpu0 = process.cpuUsage();
  const t0 = nowMs();
  await connectMany(opts.clients, opts.concurrency);
  const elapsed = nowMs() - t0;
  const cpu = cpuMs(process.cpuUsage(cpu0));
  out({ event: "measure_end" });
  out({ event: "idle", connected: sockets.length });
  const released = await waitForLine(Math.max(1000, opts.timeoutMs - (Date.now() - started) - 5000));
  if (!released) error("never released from idle");
  const stillConnected = sockets.filter((s) => s.connected).length;
  return {
    clients: opts.clients,
    connected: sockets.length,
    stillConnected,
    elapsedMs: elapsed,
    rate: (sockets.length / elapsed) * 1000,
    unit: "conn/s",
    cpuPct: (cpu / elapsed) * 100,
  };
}

async function main() {
  const scenarios = { echo: echoScenario, broadcast: broadcastScenario, connect: connectScenario };
  const run = scenarios[opts.scenario];
  if (!run) throw new Error(`unknown scenario ${opts.scenario}`);
  const result = await run();
  closeAll();
  const client = opts.client === "raw" ? "raw" : "socket.io-client";
  out({ event: "result", ok: true, scenario: opts.scenario, transport: opts.transport, client, ...result, unexpectedDisconnects, errors });
}

main()
  .catch((err) => {
    out({ event: "result", ok: false, error: String((err && err.stack) || err), errors });
    process.exitCode = 1;
  })
  .finally(() => {
    clearTimeout(hardStop);
    setTimeout(() => process.exit(), 200);
  });
