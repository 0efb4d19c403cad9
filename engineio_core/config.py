"""Engine.IO server options (PURE): names and defaults as in python-engineio, validated once.

Unknown options are reported, not silently swallowed (the reference ignores typos such as
``cors_allow_origins``; python-socketio#330).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Union

if TYPE_CHECKING:  # `logging` imports `threading`: imported where a logger is made
    import logging

CorsSetting = Union[None, str, list[str], Callable[..., bool]]
CookieSetting = Union[None, str, dict[str, Any]]

KNOWN_TRANSPORTS = ("polling", "websocket")


@dataclass(slots=True)
class EngineConfig:
    """Validated server options. Times are seconds (floats); sizes are bytes."""

    ping_interval: float = 25.0
    ping_interval_grace: float = 0.0
    ping_timeout: float = 20.0
    max_http_buffer_size: int = 1_000_000
    allow_upgrades: bool = True
    http_compression: bool = True
    compression_threshold: int = 1024
    websocket_compression: bool = False
    cookie: CookieSetting = None
    cors_allowed_origins: CorsSetting = None
    cors_credentials: bool = True
    transports: tuple[str, ...] = KNOWN_TRANSPORTS
    # 0: no count limit; max_http_buffer_size bounds a payload (the JS client batches up to
    # maxPayload bytes, so any count limit below that loses data from legitimate clients).
    max_decode_packets: int = 0
    # Flow control (docs/security.md): past `high_water_mark` unsent bytes for one client, a
    # producer that may wait (a background task, a greenlet, a plain thread) waits until that
    # client is back under `low_water_mark`; a client whose socket takes no byte for
    # `stall_timeout` seconds while it has data queued is closed as a slow consumer;
    # `max_outbox_bytes` is the hard ceiling, reached only when nobody waits. Producers wait only
    # for clients that drain: a congested client that took no byte for `stall_patience` seconds
    # is not waited for (until it takes bytes again) and is closed past `max_unwaited_bytes`
    # unsent, or at `stall_timeout`.
    max_outbox_bytes: int = 16 * 1024 * 1024
    max_outbox_messages: int = 10_000
    high_water_mark: int = 256 * 1024
    low_water_mark: int = 64 * 1024
    stall_timeout: float = 10.0
    stall_patience: float = 0.5
    max_unwaited_bytes: int = 512 * 1024
    max_sessions: int = 0  # 0: no limit beyond the file-descriptor limit
    # Serve Engine.IO v3 / Socket.IO v4 clients (socket.io-client 1.x/2.x) too (`engineio_core.v3`).
    allow_eio3: bool = False
    async_mode: str | None = None
    logger: logging.Logger = field(default_factory=lambda: _get_logger("engineio_core"))
    json: Any = None

    @property
    def advertised_ping_interval_ms(self) -> int:
        """What the handshake advertises: interval plus grace, exactly, in milliseconds."""
        return int(round((self.ping_interval + self.ping_interval_grace) * 1000))

    @property
    def advertised_ping_timeout_ms(self) -> int:
        return int(round(self.ping_timeout * 1000))


# Options the engine accepts but that have no effect here; accepted silently for compatibility
# (they are passed through by Flask-SocketIO and python-socketio users).
COMPATIBLE_NOOPS = frozenset({"monitor_clients", "async_handlers", "engineio_path", "request_timeout"})


def build_config(options: Mapping[str, Any], warn: Callable[[str], None]) -> EngineConfig:
    """Validate keyword options into an `EngineConfig`. `warn` is told of unknown names."""
    cfg = EngineConfig()
    for name, value in options.items():
        if name == "ping_interval":
            if isinstance(value, (tuple, list)):
                if len(value) != 2:
                    raise ValueError("ping_interval must be a number or (interval, grace)")
                cfg.ping_interval, cfg.ping_interval_grace = float(value[0]), float(value[1])
            else:
                cfg.ping_interval = float(value)
            if cfg.ping_interval <= 0:
                raise ValueError("ping_interval must be positive")
        elif name == "ping_timeout":
            cfg.ping_timeout = float(value)
            if cfg.ping_timeout <= 0:
                raise ValueError("ping_timeout must be positive")
        elif name == "transports":
            names = [value] if isinstance(value, str) else list(value or [])
            kept = tuple(t for t in names if t in KNOWN_TRANSPORTS)
            unknown = [t for t in names if t not in KNOWN_TRANSPORTS]
            if unknown:
                warn(f"unknown transports ignored: {unknown!r}")
            if not kept:
                raise ValueError("No valid transports provided")
            cfg.transports = kept
        elif name == "logger":
            cfg.logger = resolve_logger(value, "engineio_core")
        elif name == "stall_timeout":
            cfg.stall_timeout = float(value)
            if cfg.stall_timeout <= 0:
                raise ValueError("stall_timeout must be positive")
        elif name == "stall_patience":
            cfg.stall_patience = float(value)
            if not cfg.stall_patience > 0:
                raise ValueError("stall_patience must be positive")
        elif name in ("max_http_buffer_size", "compression_threshold", "max_decode_packets",
                      "max_outbox_bytes", "max_outbox_messages", "max_sessions",
                      "high_water_mark", "low_water_mark", "max_unwaited_bytes"):
            ivalue = int(value)
            if ivalue < 0:
                raise ValueError(f"{name} must not be negative")
            setattr(cfg, name, ivalue)
        elif name in ("allow_upgrades", "http_compression", "cors_credentials",
                      "websocket_compression", "allow_eio3"):
            setattr(cfg, name, bool(value))
        elif name in ("cookie", "cors_allowed_origins", "async_mode", "json"):
            setattr(cfg, name, value)
        elif name in COMPATIBLE_NOOPS:
            pass
        else:
            warn(f"unknown Engine.IO option {name!r} ignored (is it misspelt?)")
    if cfg.high_water_mark and cfg.low_water_mark >= cfg.high_water_mark:
        if "low_water_mark" in options:
            raise ValueError("low_water_mark must be below high_water_mark")
        cfg.low_water_mark = cfg.high_water_mark // 4
    return cfg


def _get_logger(name: str) -> logging.Logger:
    import logging

    return logging.getLogger(name)


def resolve_logger(value: Any, name: str) -> logging.Logger:
    """True → INFO to stderr, a Logger → itself, False/None → errors only."""
    import logging

    if isinstance(value, logging.Logger):
        return value
    logger = logging.getLogger(name)
    if value:
        if logger.level == logging.NOTSET or logger.level > logging.INFO:
            logger.setLevel(logging.INFO)
        if not logger.hasHandlers():
            logger.addHandler(logging.StreamHandler())
    elif logger.level == logging.NOTSET:
        logger.setLevel(logging.ERROR)
    return logger


def _seconds(value: float) -> float:
    """A whole number of seconds as an int (``25``, as python-engineio reports the default)."""
    return int(value) if value.is_integer() else value


class EngineIOAttributes:
    """python-engineio's attribute names on a server, read by apps and extensions (durations
    in seconds, as configured)."""

    config: EngineConfig

    @property
    def allow_upgrades(self) -> bool:
        return self.config.allow_upgrades

    @property
    def cookie(self) -> Any:
        return self.config.cookie

    @property
    def max_http_buffer_size(self) -> int:
        return self.config.max_http_buffer_size

    @property
    def ping_interval(self) -> float:
        return _seconds(self.config.ping_interval)

    @property
    def ping_interval_grace_period(self) -> float:
        return _seconds(self.config.ping_interval_grace)

    @property
    def ping_timeout(self) -> float:
        return _seconds(self.config.ping_timeout)
