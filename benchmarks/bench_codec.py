"""Codec micro-benchmark: encode + decode round trips per second, ours vs the reference.

Three typical packets -- a small chat event, a ~1 KB JSON event and an event carrying a 1 KB
binary attachment -- each through the JSON codec and the msgpack codec. One operation builds
the packet, encodes it and decodes every encoded part again.

    python benchmarks/bench_codec.py --impl ours          # our codec, this interpreter
    python benchmarks/bench_codec.py --impl reference     # python-socketio's Packet (needs it installed)
    python benchmarks/bench_codec.py --compare [--json PATH]

``--compare`` creates ``.venv-ref`` next to ``.venv`` if it is missing (pinned python-socketio,
Flask-SocketIO and the same msgpack version as ours), then runs this script in worker
subprocesses -- ours under the current interpreter, the reference under ``.venv-ref`` --
interleaved for ``--rounds`` rounds (alternating which goes first), and reports medians.
Every measurement is bounded by ``--duration`` seconds per case per round.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
REF_VENV = REPO / ".venv-ref"
REF_PINS = ["python-socketio==5.18.1", "python-engineio==4.15.1", "flask-socketio==5.7.0"]

CASES = ["json-small", "json-1k", "json-binary", "msgpack-small", "msgpack-1k", "msgpack-binary"]
LABELS = {
    "json-small": 'JSON  small event  42["chat",{...}]',
    "json-1k": "JSON  ~1 KB event",
    "json-binary": "JSON  event + 1 KB binary",
    "msgpack-small": "msgpack small event",
    "msgpack-1k": "msgpack ~1 KB event",
    "msgpack-binary": "msgpack event + 1 KB binary",
}


def payloads() -> dict[str, list[Any]]:
    """The event data (``[name, *args]``) of each kind of packet."""
    small = ["chat", {"user": "ann", "text": "hello"}]
    items = [
        {"id": i, "name": f"item-{i}", "tags": ["a", "b"], "score": i * 1.5, "ok": i % 2 == 0}
        for i in range(14)
    ]
    one_k = ["update", {"room": "lobby", "items": items}]
    binary = ["upload", {"name": "blob.bin", "data": bytes(range(256)) * 4}]
    return {"small": small, "1k": one_k, "binary": binary}


# -- the implementations ------------------------------------------------------------------------


def ours_operations() -> dict[str, Callable[[], Any]]:
    sys.path.insert(0, str(REPO))
    from socketio_core import JSONCodec, MsgPackCodec, PacketType, SocketPacket

    ops: dict[str, Callable[[], Any]] = {}
    for codec_name, codec in (("json", JSONCodec()), ("msgpack", MsgPackCodec())):
        for kind, data in payloads().items():
            decoder = codec.decoder()

            def op(
                codec: Any = codec, decoder: Any = decoder, data: list[Any] = data
            ) -> SocketPacket | None:
                packet = None
                for part in codec.encode(SocketPacket(PacketType.EVENT, "/", data)):
                    packet = decoder.feed(part)
                return packet

            result = op()
            assert result is not None and result.data == data, (codec_name, kind, result)
            ops[f"{codec_name}-{kind}"] = op
    return ops


def reference_operations() -> dict[str, Callable[[], Any]]:
    from socketio import msgpack_packet, packet  # the reference, only in its own venv

    ops: dict[str, Callable[[], Any]] = {}
    for codec_name, cls in (("json", packet.Packet), ("msgpack", msgpack_packet.MsgPackPacket)):
        for kind, data in payloads().items():

            def op(cls: Any = cls, data: list[Any] = data) -> Any:
                encoded = cls(packet.EVENT, data=data, namespace="/").encode()
                if isinstance(encoded, list):
                    decoded = cls(encoded_packet=encoded[0])
                    for attachment in encoded[1:]:
                        decoded.add_attachment(attachment)
                else:
                    decoded = cls(encoded_packet=encoded)
                return decoded

            result = op()
            assert result.data == data, (codec_name, kind, result.data)
            ops[f"{codec_name}-{kind}"] = op
    return ops


def measure(op: Callable[[], Any], duration: float) -> dict[str, float]:
    """Operations per second of ``op``, measured for about ``duration`` seconds.

    ``mean`` is operations / elapsed time; ``best`` is the rate of the fastest ~10 ms batch
    (the timeit "min" convention), which is much less disturbed by other load on the machine.
    """
    batch = 1
    while True:  # calibrate: a batch takes ~10 ms
        start = time.perf_counter()
        for _ in range(batch):
            op()
        elapsed = time.perf_counter() - start
        if elapsed >= 0.01 or batch >= 1 << 20:
            break
        batch *= 2
    count = 0
    fastest = float("inf")
    start = time.perf_counter()
    deadline = start + duration
    now = start
    while now < deadline:
        before = now
        for _ in range(batch):
            op()
        count += batch
        now = time.perf_counter()
        fastest = min(fastest, now - before)
    return {"mean": count / (now - start), "best": batch / fastest}


def run_worker(impl: str, duration: float, cases: list[str]) -> dict[str, dict[str, float]]:
    ops = ours_operations() if impl == "ours" else reference_operations()
    return {case: measure(ops[case], duration) for case in cases}


# -- driving ---------------------------------------------------------------------------------------


def ensure_reference_venv() -> Path:
    """The reference venv's interpreter, creating the venv (pinned versions) if missing."""
    python = REF_VENV / "bin" / "python"
    if python.exists():
        return python
    print(f"creating {REF_VENV} ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(REF_VENV)], check=True)
    pins = [*REF_PINS, f"msgpack=={metadata.version('msgpack')}"]
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *pins],
        check=True,
    )
    return python


def run_subprocess(
    python: Path | str, impl: str, duration: float, cases: list[str]
) -> dict[str, dict[str, float]]:
    cmd = [
        str(python),
        str(Path(__file__).resolve()),
        "--worker",
        "--impl",
        impl,
        "--duration",
        str(duration),
        "--cases",
        ",".join(cases),
    ]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    timeout = 120 + 10 * duration * len(cases)
    proc = subprocess.run(
        cmd, capture_output=True, text=True, check=False, env=env, timeout=timeout
    )
    if proc.returncode != 0:
        raise SystemExit(f"{impl} worker failed:\n{proc.stderr}")
    result: dict[str, dict[str, float]] = json.loads(proc.stdout)
    return result


METRICS = {
    "best": "ops/s of the fastest ~10 ms batch (robust to other load on the machine)",
    "mean": "ops/s over the whole measurement",
}


def print_single(impl: str, results: dict[str, dict[str, float]]) -> None:
    print(f"{'case':34} {'best ops/s':>12} {'mean ops/s':>12}   ({impl})")
    for case, r in results.items():
        print(f"{LABELS[case]:34} {r['best']:>12,.0f} {r['mean']:>12,.0f}")


def compare(args: argparse.Namespace, cases: list[str]) -> dict[str, Any]:
    ref_python = ensure_reference_venv()
    impls = ("ours", "reference")
    samples: dict[str, dict[str, dict[str, list[float]]]] = {
        case: {impl: {metric: [] for metric in METRICS} for impl in impls} for case in cases
    }
    for round_no in range(args.rounds):
        order = impls if round_no % 2 == 0 else impls[::-1]
        for impl in order:
            python = sys.executable if impl == "ours" else ref_python
            for case, rates in run_subprocess(python, impl, args.duration, cases).items():
                for metric in METRICS:
                    samples[case][impl][metric].append(rates[metric])
        print(f"round {round_no + 1}/{args.rounds} done", file=sys.stderr)
    results: dict[str, Any] = {}
    for case in cases:
        results[case] = {"samples": samples[case]}
        for metric in METRICS:
            ours = statistics.median(samples[case]["ours"][metric])
            ref = statistics.median(samples[case]["reference"][metric])
            results[case][metric] = {
                "ours_ops_per_s": ours,
                "reference_ops_per_s": ref,
                "ratio": ours / ref,
            }
    for metric, meaning in METRICS.items():
        print(
            f"\n{metric}: {meaning}; median of {args.rounds} rounds, {args.duration:g} s per case"
        )
        print(f"{'case':34} {'ours':>12} {'reference':>12} {'ours/ref':>9}")
        for case in cases:
            r = results[case][metric]
            print(
                f"{LABELS[case]:34} {r['ours_ops_per_s']:>12,.0f} {r['reference_ops_per_s']:>12,.0f}"
                f" {r['ratio']:>8.2f}x"
            )
    return {
        "benchmark": "codec encode+decode round trips",
        "python": platform.python_version(),
        "reference": REF_PINS,
        "rounds": args.rounds,
        "duration_s": args.duration,
        "metrics": METRICS,
        "results": results,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--impl", choices=["ours", "reference"], default="ours")
    parser.add_argument("--compare", action="store_true", help="ours vs reference (own venv)")
    parser.add_argument("--duration", type=float, default=1.0, help="seconds per case per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds for --compare (>= 3)")
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated subset")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    cases = [c for c in args.cases.split(",") if c]
    unknown = set(cases) - set(CASES)
    if unknown:
        parser.error(f"unknown cases: {', '.join(sorted(unknown))}")
    if not 0 < args.duration <= 30:
        parser.error("--duration must be in (0, 30]")
    if args.worker:
        print(json.dumps(run_worker(args.impl, args.duration, cases)))
        return
    if args.compare:
        if args.rounds < 3:
            parser.error("--compare needs --rounds >= 3")
        report = compare(args, cases)
    else:
        results = run_worker(args.impl, args.duration, cases)
        print_single(args.impl, results)
        report = {
            "benchmark": "codec encode+decode round trips",
            "python": platform.python_version(),
            "impl": args.impl,
            "duration_s": args.duration,
            "metrics": METRICS,
            "results": results,
        }
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
