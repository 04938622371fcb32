"""Headers of file downloads."""

from __future__ import annotations

from urllib.parse import quote


def attachment(filename: str) -> str:
    """A Content-Disposition header value that keeps a Vietnamese file name (RFC 6266 ``filename*``) with a
    plain ASCII fallback for old clients."""
    ascii_name = filename.encode("ascii", "replace").decode().replace("?", "_").replace('"', "").replace("\\", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
