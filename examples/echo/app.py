"""Engine.IO echo demo: every message a client sends comes straight back.

    .venv/bin/python examples/echo/app.py [--port 5000]
"""

from __future__ import annotations

import argparse
import logging

import engineio_core


def build(**options: object) -> engineio_core.WSGIApp:
    eio = engineio_core.EngineServer(**options)

    @eio.on("message")
    def echo(eio_sid: str, data: str | bytes) -> None:
        eio.send(eio_sid, data)

    return engineio_core.WSGIApp(eio)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    print(f"Engine.IO echo server on http://{args.host}:{args.port}/engine.io/")
    engineio_core.serve(build(), host=args.host, port=args.port)
