"""Input and output shapes for sign-in, users and API keys."""

from __future__ import annotations

from datetime import datetime

import msgspec


class LoginInput(msgspec.Struct):
    username: str
    password: str


class LoginOutput(msgspec.Struct):
    username: str
    role: str
    csrf_token: str
    expires_at: datetime
    provinces: list[str]
    communes: list[str]


class UserInput(msgspec.Struct):
    username: str
    password: str
    role: str
    full_name: str = ""
    provinces: list[str] = msgspec.field(default_factory=list)
    communes: list[str] = msgspec.field(default_factory=list)


class UserOutput(msgspec.Struct):
    id: int
    username: str
    full_name: str
    role: str
    provinces: list[str]
    communes: list[str]
    is_active: bool


class UserUpdate(msgspec.Struct):
    """A change of a user's role, scope or name; a field left out keeps its value."""

    role: str | None = None
    provinces: list[str] | None = None
    communes: list[str] | None = None
    full_name: str | None = None


class PasswordReset(msgspec.Struct):
    """A new password for a user; left out, a temporary one is made and returned once."""

    password: str | None = None


class PasswordResetOutput(msgspec.Struct):
    username: str
    password: str | None  # the temporary password made, shown this once; None when the admin gave one
    sessions_ended: int


class ApiKeyInput(msgspec.Struct):
    bank_bin: str
    label: str = ""


class ApiKeyCreated(msgspec.Struct):
    key: str
    prefix: str
    bank_bin: str


class ApiKeyOutput(msgspec.Struct):
    id: int
    prefix: str
    bank_bin: str
    label: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
