// The client side of the getting-started guide, with the official socket.io-client@4.
// usage: node flask_getting_started.js '{"url": "...", "responses": 1, "ackEmits": 0}'
// Runs the page snippet of the guide:
//     var socket = io();
//     socket.on('connect', function() {
//         socket.emit('my event', {data: 'I\'m connected!'});
//     });
// then waits for `responses` 'my response' events (acknowledging each one that asks for it,
// with the arguments `ackWith`, none by default), then emits 'my event' `ackEmits` times with an acknowledgement callback.
// Prints one JSON line: {ok, error, responses: [[args]], acks: [[args]], transport}.
const { io } = require("socket.io-client");

const opts = JSON.parse(process.argv[2] || "{}");
const result = { ok: false, error: null, responses: [], acks: [], askedAck: 0, transport: null };
let done = false;

function finish(error) {
  if (done) return;
  done = true;
  result.error = error || null;
  result.ok = !error;
  console.log(JSON.stringify(result));
  process.exit(0);
}
setTimeout(() => finish("timeout"), opts.timeoutMs || 15000);

async function runAcks() {
  for (let i = 0; i < (opts.ackEmits || 0); i++) {
    const ack = await new Promise((resolve) => {
      socket.emit("my event", { data: "ack " + i }, (...ackArgs) => resolve(ackArgs));
    });
    result.acks.push(ack);
  }
  result.transport = socket.io.engine.transport.name;
  // Exit once the engine is closed: it first flushes what is buffered (an acknowledgement
  // written while an upgrade is under way waits for it; the server answers the waiting poll
  // at its 100 ms upgrade check, as Node does).
  socket.io.engine.on("close", () => finish(null));
  socket.disconnect();
}

// The guide's `io()` means "the server that served this page": here, opts.url.
var socket = io(opts.url, { forceNew: true, reconnection: false });
socket.on("connect", function () {
  socket.emit("my event", { data: "I'm connected!" });
});
socket.on("connect", () => { if (!(opts.responses > 0)) runAcks(); });
socket.on("connect_error", (err) => finish("connect_error: " + err.message));

socket.on("my response", (...args) => {
  const last = args[args.length - 1];
  if (typeof last === "function") {
    args.pop();
    result.askedAck += 1;
    last(...(opts.ackWith || []));
  }
  result.responses.push(args);
  if (result.responses.length === opts.responses) runAcks();
});
