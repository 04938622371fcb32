"""Sign-in, sessions and bank API keys."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import false, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.auth.models import STAFF_ROLES, BankApiKey, LoginAttempt, Role, StaffSession, StaffUser
from app.registry.models import Bank, Commune, Province

_hasher = PasswordHasher()
# A real hash to verify against when the user does not exist, so timing does not reveal usernames.
_DUMMY_HASH = _hasher.hash("not-a-real-password")
API_KEY_PREFIX = "ansinh_"


@dataclass(frozen=True)
class Principal:
    """Who is calling: a staff member (session) or a bank (API key)."""

    kind: str  # "staff" | "bank"
    name: str
    role: Role
    user_id: int | None = None
    bank_bin: str | None = None
    provinces: tuple[str, ...] = ()
    communes: tuple[str, ...] = ()
    csrf_token: str | None = None
    session_id: int | None = None
    api_key_id: int | None = None
    full_name: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def is_commune_scoped(self) -> bool:
        return self.role == Role.commune_staff

    @property
    def is_province_scoped(self) -> bool:
        return bool(self.provinces) and self.role != Role.commune_staff


class AuthError(Exception):
    """Sign-in refused; the message is deliberately generic."""


class RateLimited(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__("too many failed sign-ins")
        self.retry_after = retry_after


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def use_password_hasher(hasher: PasswordHasher) -> None:
    """Hash new passwords (and the unknown-user decoy) with ``hasher``'s cost parameters. A hash keeps the
    parameters it was made with, so stored passwords still verify; sign-in rehashes them to these. The test
    suite uses argon2's cheapest parameters: the same code path, without 64 MiB and three passes per sign-in."""
    global _hasher, _DUMMY_HASH  # noqa: PLW0603 (module-level hasher, set once at start-up)
    _hasher = hasher
    _DUMMY_HASH = hasher.hash("not-a-real-password")


def _sha256(value: str) -> bytes:
    return hashlib.sha256(value.encode()).digest()


class ScopeError(ValueError):
    """A user's role and scope do not fit together (or a key's bank is unknown): English as the message, for the
    command line; ``vi`` the same in Vietnamese, which the API puts first."""

    def __init__(self, en: str, vi: str) -> None:
        super().__init__(en)
        self.en = en
        self.vi = vi


async def _check_scope(
    session: AsyncSession, role: Role, provinces: Sequence[str], communes: Sequence[str]
) -> None:
    if role not in STAFF_ROLES:
        raise ScopeError(f"role {role} is not a staff role (banks use API keys: `ansinh apikey create`)",
                         f"Vai trò {role} không phải vai trò của cán bộ (ngân hàng dùng khoá API)")
    if role == Role.commune_staff and not communes:
        raise ScopeError("commune_staff needs at least one --commune", "Cán bộ xã cần ít nhất một xã/phường")
    if provinces:
        found = set((await session.scalars(select(Province.code).where(Province.code.in_(provinces)))).all())
        missing = sorted(set(provinces) - found)
        if missing:
            raise ScopeError(f"unknown province code(s): {', '.join(missing)}",
                             f"Không có mã tỉnh/thành phố: {', '.join(missing)}")
    if communes:
        found = set((await session.scalars(select(Commune.code).where(Commune.code.in_(communes)))).all())
        missing = sorted(set(communes) - found)
        if missing:
            raise ScopeError(f"unknown commune code(s): {', '.join(missing)}",
                             f"Không có mã xã/phường: {', '.join(missing)}")


async def create_user(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    role: Role,
    provinces: Sequence[str] = (),
    communes: Sequence[str] = (),
    full_name: str = "",
    actor: str = "system",
) -> StaffUser:
    """Create a staff user with an argon2 password hash; scope codes are checked against reference data."""
    if len(password) < 8:
        raise ScopeError("password must have at least 8 characters", "Mật khẩu phải có ít nhất 8 ký tự")
    await _check_scope(session, role, provinces, communes)
    exists = await session.scalar(select(StaffUser.id).where(func.lower(StaffUser.username) == username.lower()))
    if exists:
        raise ScopeError(f"user {username!r} already exists", f"Tên đăng nhập '{username}' đã có")
    user = StaffUser(
        username=username,
        password_hash=hash_password(password),
        role=role.value,
        provinces=list(provinces),
        communes=list(communes),
        full_name=full_name,
        is_active=True,
    )
    session.add(user)
    await session.flush()
    await record(
        session,
        actor=actor,
        action="user.create",
        object_type="staff_user",
        object_id=user.id,
        after={"username": username, "role": role, "provinces": list(provinces), "communes": list(communes)},
    )
    return user


class UserNotFound(LookupError):
    """No staff user has that id."""


class UserChangedSince(Exception):
    """The account changed after the form was opened (a password reset resubmitted by a reload, another admin's
    change): nothing is done; ``at`` is when it changed."""

    def __init__(self, at: datetime) -> None:
        super().__init__(f"the account changed at {at.isoformat()}")
        self.at = at


class UserChangeRefused(Exception):
    """A change an admin may not make (to their own account), said in Vietnamese and English."""

    def __init__(self, vi: str, en: str) -> None:
        super().__init__(f"{vi} / {en}")
        self.vi, self.en = vi, en


# Temporary passwords: no look-alike characters (0/o, 1/l/i), easy to read out over the phone.
_PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def temporary_password() -> str:
    """A random password of three groups of four characters (about 59 bits), e.g. ``k7mp-x3qa-r9tz``."""
    return "-".join("".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(4)) for _ in range(3))


async def _locked_user(session: AsyncSession, user_id: int) -> StaffUser:
    user = await session.scalar(select(StaffUser).where(StaffUser.id == user_id).with_for_update())
    if user is None:
        raise UserNotFound(user_id)
    return user


async def end_sessions(session: AsyncSession, user_id: int, *, keep_session_id: int | None = None) -> int:
    """Revoke a user's open sessions (all but ``keep_session_id``); how many were open."""
    result = await session.execute(
        update(StaffSession)
        .where(StaffSession.user_id == user_id, StaffSession.revoked_at.is_(None),
               StaffSession.expires_at > func.now(), StaffSession.id != (keep_session_id or 0))
        .values(revoked_at=func.now())
        .returning(StaffSession.id))
    return len(result.all())


async def open_sessions(session: AsyncSession, user_id: int) -> int:
    """How many sessions of a user are open now."""
    return int(await session.scalar(select(func.count()).select_from(StaffSession).where(
        StaffSession.user_id == user_id, StaffSession.revoked_at.is_(None),
        StaffSession.expires_at > func.now())) or 0)


async def set_user_active(session: AsyncSession, *, user_id: int, active: bool, actor: str,
                          actor_id: int | None, actor_role: str | None = None) -> tuple[StaffUser, int]:
    """Deactivate (sign-in refused, open sessions ended) or reactivate a user, audited ``user.deactivate`` /
    ``user.reactivate``; nothing is written when the user is already so. An admin cannot deactivate
    themselves. Returns the user and how many sessions were ended."""
    if not active and user_id == actor_id:
        raise UserChangeRefused("Không thể tự khóa tài khoản của chính mình; hãy nhờ một quản trị viên khác",
                                "an admin cannot deactivate themselves; ask another admin")
    user = await _locked_user(session, user_id)
    if user.is_active == active:
        return user, 0
    ended = 0 if active else await end_sessions(session, user.id)
    user.is_active, user.updated_at = active, datetime.now(UTC)
    await session.flush()
    await record(session, actor=actor, actor_role=actor_role,
                 action="user.reactivate" if active else "user.deactivate", object_type="staff_user",
                 object_id=user.id, before={"username": user.username, "is_active": not active},
                 after={"username": user.username, "is_active": active, "sessions_ended": ended})
    return user, ended


async def reset_password(session: AsyncSession, *, user_id: int, password: str | None, actor: str,
                         actor_role: str | None = None, keep_session_id: int | None = None,
                         unchanged_since: datetime | None = None) -> tuple[StaffUser, str | None, int]:
    """Set a user's password (a temporary one is made when ``password`` is None) and end their open sessions
    (but ``keep_session_id``: an admin resetting their own stays signed in); audited ``user.password_reset``
    without the password. Returns the user, the made password (None when given) and the sessions ended.
    ``unchanged_since``: the account's ``updated_at`` when the form was opened; a later change (the same reset
    sent again by a reload) raises ``UserChangedSince`` and nothing is reset."""
    made = temporary_password() if password is None else None
    new_password = made or password or ""
    if len(new_password) < 8:
        raise ScopeError("password must have at least 8 characters", "Mật khẩu phải có ít nhất 8 ký tự")
    user = await _locked_user(session, user_id)
    if unchanged_since is not None and user.updated_at != unchanged_since:
        raise UserChangedSince(user.updated_at)
    user.password_hash, user.updated_at = hash_password(new_password), datetime.now(UTC)
    await session.flush()
    ended = await end_sessions(session, user.id, keep_session_id=keep_session_id)
    await record(session, actor=actor, actor_role=actor_role, action="user.password_reset",
                 object_type="staff_user", object_id=user.id,
                 after={"username": user.username, "generated": made is not None, "sessions_ended": ended})
    return user, made, ended


async def update_user(session: AsyncSession, *, user_id: int, role: Role, provinces: Sequence[str],
                      communes: Sequence[str], full_name: str | None = None, actor: str,
                      actor_id: int | None, actor_role: str | None = None) -> tuple[StaffUser, list[str]]:
    """Change a user's role and scope (and name), checked as at creation; audited ``user.update`` with the
    fields that changed, before and after. An admin cannot change their own role (so one admin always
    remains). The user's next request already has the new role and scope (it is read per request).
    Returns the user and the names of the fields that changed (none: nothing written)."""
    user = await _locked_user(session, user_id)
    if user.id == actor_id and role.value != user.role:
        raise UserChangeRefused("Không thể tự đổi vai trò của chính mình; hãy nhờ một quản trị viên khác",
                                "an admin cannot change their own role; ask another admin")
    await _check_scope(session, role, provinces, communes)
    new_name = user.full_name if full_name is None else full_name
    current: dict[str, Any] = {"role": user.role, "provinces": list(user.provinces or []),
                               "communes": list(user.communes or []), "full_name": user.full_name}
    wanted: dict[str, Any] = {"role": role.value, "provinces": list(provinces), "communes": list(communes),
                              "full_name": new_name}
    changed = [key for key in current if current[key] != wanted[key]]
    if not changed:
        return user, []
    user.role, user.provinces, user.communes = role.value, list(provinces), list(communes)
    user.full_name, user.updated_at = new_name, datetime.now(UTC)
    await session.flush()
    await record(session, actor=actor, actor_role=actor_role, action="user.update", object_type="staff_user",
                 object_id=user.id, before={"username": user.username, **{k: current[k] for k in changed}},
                 after={"username": user.username, **{k: wanted[k] for k in changed}})
    return user, changed


# One office (a commune's or the department's network) signs in from one address: a few people mistyping
# must not lock out everyone behind it. An address is refused only past this many times the per-user limit.
ADDRESS_FAILURE_FACTOR = 10


async def _locked_out(session: AsyncSession, username: str, ip: str | None, window: timedelta,
                      max_failures: int) -> bool:
    """Whether this username failed ``max_failures`` times in the window, or this address (every username
    from it) ``ADDRESS_FAILURE_FACTOR`` times as many."""
    since = datetime.now(UTC) - window
    by_user = func.lower(LoginAttempt.username) == username.lower()
    by_address = LoginAttempt.ip == ip if ip else false()
    row = (await session.execute(select(
        func.count().filter(by_user), func.count().filter(by_address),
    ).where(LoginAttempt.success.is_(False), LoginAttempt.at >= since, by_user | by_address))).one()
    return int(row[0]) >= max_failures or int(row[1]) >= max_failures * ADDRESS_FAILURE_FACTOR


async def login(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    ip: str | None,
    session_hours: int,
    max_failures: int,
    window_minutes: int,
) -> tuple[str, StaffSession, StaffUser]:
    """Check the password and open a session; returns the raw token (for the cookie) once.

    Failures are counted per username and per client address; past ``max_failures`` for the username
    (or ``ADDRESS_FAILURE_FACTOR`` times as many from the address, whatever the usernames) in the window,
    every attempt is refused with RateLimited, whether the password is right or not.
    """
    window = timedelta(minutes=window_minutes)
    if await _locked_out(session, username, ip, window, max_failures):
        raise RateLimited(retry_after=window_minutes * 60)
    user = await session.scalar(select(StaffUser).where(func.lower(StaffUser.username) == username.lower()))
    ok = False
    try:
        ok = _hasher.verify(user.password_hash if user else _DUMMY_HASH, password) and user is not None
    except (VerificationError, InvalidHashError):
        ok = False
    ok = ok and user is not None and user.is_active
    session.add(LoginAttempt(username=username[:64], ip=ip, success=ok))
    if not ok or user is None:
        await session.flush()
        raise AuthError("wrong username or password")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    token = secrets.token_urlsafe(32)
    staff_session = StaffSession(
        token_hash=_sha256(token),
        csrf_token=secrets.token_urlsafe(24),
        user_id=user.id,
        expires_at=datetime.now(UTC) + timedelta(hours=session_hours),
        ip=ip,
    )
    session.add(staff_session)
    await session.flush()
    await record(session, actor=user.username, actor_role=user.role, action="auth.login",
                 object_type="staff_user", object_id=user.id)
    return token, staff_session, user


async def principal_from_session_token(session: AsyncSession, token: str) -> Principal | None:
    """The signed-in staff member for a session cookie, or None when unknown, expired or revoked."""
    row = (
        await session.execute(
            select(StaffSession, StaffUser)
            .join(StaffUser, StaffUser.id == StaffSession.user_id)
            .where(
                StaffSession.token_hash == _sha256(token),
                StaffSession.revoked_at.is_(None),
                StaffSession.expires_at > func.now(),
                StaffUser.is_active.is_(True),
            )
        )
    ).first()
    if row is None:
        return None
    staff_session, user = row
    return Principal(
        kind="staff",
        name=user.username,
        role=Role(user.role),
        user_id=user.id,
        provinces=tuple(user.provinces or ()),
        communes=tuple(user.communes or ()),
        csrf_token=staff_session.csrf_token,
        session_id=staff_session.id,
        full_name=user.full_name or "",
    )


async def logout(session: AsyncSession, session_id: int) -> None:
    await session.execute(
        update(StaffSession).where(StaffSession.id == session_id).values(revoked_at=func.now())
    )


async def create_api_key(session: AsyncSession, *, bank_bin: str, label: str = "", actor: str = "system") -> str:
    """Create a key bound to one bank BIN; the raw key is returned once and only its hash is stored."""
    bank = await session.get(Bank, bank_bin)
    if bank is None:
        raise ScopeError(f"unknown bank BIN {bank_bin!r}", f"Không có ngân hàng mã BIN '{bank_bin}'")
    prefix = secrets.token_hex(4)
    key = f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    api_key = BankApiKey(bank_bin=bank_bin, prefix=prefix, key_hash=_sha256(key), label=label, created_by=actor)
    session.add(api_key)
    await session.flush()
    await record(session, actor=actor, action="apikey.create", object_type="bank_api_key",
                 object_id=api_key.id, after={"bank_bin": bank_bin, "prefix": prefix, "label": label})
    return key


# How long a new key waits, sealed, for the page the admin is sent to after issuing it.
REVEAL_MINUTES = 10


def _reveal_pad(token: str, length: int) -> bytes:
    """The stream a key is sealed with: SHAKE-256 of the one-time token (random, 256 bits, used once)."""
    return hashlib.shake_256(b"ansinh-api-key-reveal\0" + token.encode()).digest(length)


async def seal_api_key_reveal(session: AsyncSession, *, key: str, session_id: int) -> str:
    """Keep a key just issued for one showing to the admin's session, sealed under a new one-time token that
    only the redirect carries; returns the token. The database holds neither the key nor the token (only
    its hash); expired reveals are dropped on the way."""
    await session.execute(text("DELETE FROM api_key_reveal WHERE expires_at < now()"))
    api_key_id = await session.scalar(select(BankApiKey.id).where(BankApiKey.key_hash == _sha256(key)))
    token = secrets.token_urlsafe(32)
    raw = key.encode()
    sealed = bytes(a ^ b for a, b in zip(raw, _reveal_pad(token, len(raw)), strict=True))
    await session.execute(text(
        """INSERT INTO api_key_reveal (token_hash, api_key_id, session_id, sealed_key, expires_at)
           VALUES (:token_hash, :api_key_id, :session_id, :sealed, now() + make_interval(mins => :minutes))"""),
        {"token_hash": _sha256(token), "api_key_id": api_key_id, "session_id": session_id, "sealed": sealed,
         "minutes": REVEAL_MINUTES})
    return token


async def open_api_key_reveal(session: AsyncSession, *, token: str, session_id: int) -> tuple[str, str] | None:
    """The key sealed under ``token`` for this session and its bank BIN, once: the reveal is deleted as it is
    read. None when it was read before, has expired, belongs to another session, or its key was revoked."""
    row = (await session.execute(text(
        """DELETE FROM api_key_reveal r USING bank_api_key k
            WHERE r.token_hash = :token_hash AND r.session_id = :session_id AND k.id = r.api_key_id
              AND r.expires_at >= now() AND k.revoked_at IS NULL
        RETURNING r.sealed_key, k.bank_bin"""), {"token_hash": _sha256(token), "session_id": session_id})).first()
    if row is None:
        return None
    sealed = bytes(row.sealed_key)
    return bytes(a ^ b for a, b in zip(sealed, _reveal_pad(token, len(sealed)), strict=True)).decode(), row.bank_bin


async def revoke_api_key(session: AsyncSession, *, prefix: str, actor: str = "system") -> bool:
    """Revoke a key by its prefix; returns False when no active key has that prefix."""
    result = await session.execute(
        update(BankApiKey)
        .where(BankApiKey.prefix == prefix, BankApiKey.revoked_at.is_(None))
        .values(revoked_at=func.now())
        .returning(BankApiKey.id, BankApiKey.bank_bin)
    )
    row = result.first()
    if row is None:
        return False
    await record(session, actor=actor, action="apikey.revoke", object_type="bank_api_key",
                 object_id=row.id, after={"bank_bin": row.bank_bin, "prefix": prefix})
    return True


async def principal_from_api_key(session: AsyncSession, key: str) -> Principal | None:
    """The bank behind a bearer key, or None when unknown or revoked."""
    if not key.startswith(API_KEY_PREFIX):
        return None
    api_key = await session.scalar(
        select(BankApiKey).where(BankApiKey.key_hash == _sha256(key), BankApiKey.revoked_at.is_(None))
    )
    if api_key is None:
        return None
    await session.execute(
        update(BankApiKey).where(BankApiKey.id == api_key.id).values(last_used_at=func.now())
    )
    return Principal(
        kind="bank", name=f"bank:{api_key.bank_bin}", role=Role.bank, bank_bin=api_key.bank_bin,
        api_key_id=api_key.id,
    )
