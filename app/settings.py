"""One typed settings object, read from the environment once."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path

import platformdirs


def _default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("ansinh", appauthor=False))


@dataclass(frozen=True)
class Settings:
    """Runtime configuration. Build with :func:`load_settings`; override with ``dataclasses.replace``."""

    database_url: str | None = None
    data_dir: Path = field(default_factory=_default_data_dir)
    env: str = "development"
    host: str = "127.0.0.1"
    port: int = 8000
    secret_key: str = ""
    session_hours: int = 8
    login_max_failures: int = 5
    login_window_minutes: int = 15
    scheduler_enabled: bool = True
    scheduler_poll_seconds: float = 5.0
    demo_on_empty: bool = True
    # Payout run steps (compute, approve, send, cancel) of at most this many payouts (enrolments, before
    # computing) run within the request (200); bigger ones answer 202 and report progress on the run.
    payout_sync_limit: int = 5_000

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def local_url(self) -> str:
        """Where a browser on this machine reaches ``ansinh serve``: ``http://host:port``, an address that
        listens on every interface (0.0.0.0, ::) as 127.0.0.1, an IPv6 address in brackets."""
        host = "127.0.0.1" if self.host in ("", "0.0.0.0", "::") else self.host
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    def with_overrides(self, **changes: object) -> Settings:
        """A copy with some fields replaced (None values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})  # type: ignore[arg-type]


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def load_settings() -> Settings:
    """Read settings from ANSINH_* variables and DATABASE_URL."""
    data_dir = os.environ.get("ANSINH_DATA_DIR")
    secret = os.environ.get("ANSINH_SECRET_KEY") or secrets.token_urlsafe(32)
    return Settings(
        database_url=os.environ.get("DATABASE_URL") or None,
        data_dir=Path(data_dir).expanduser() if data_dir else _default_data_dir(),
        env=os.environ.get("ANSINH_ENV", "development"),
        host=os.environ.get("ANSINH_HOST", "127.0.0.1"),
        port=int(os.environ.get("ANSINH_PORT", "8000")),
        secret_key=secret,
        session_hours=int(os.environ.get("ANSINH_SESSION_HOURS", "8")),
        scheduler_enabled=_bool(os.environ.get("ANSINH_SCHEDULER"), True),
        scheduler_poll_seconds=float(os.environ.get("ANSINH_SCHEDULER_POLL_SECONDS", "5")),
        demo_on_empty=_bool(os.environ.get("ANSINH_DEMO"), True),
        payout_sync_limit=int(os.environ.get("ANSINH_PAYOUT_SYNC_LIMIT", "5000")),
    )
