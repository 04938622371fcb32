"""A living demo world, built through the real code paths (import, runs, approval, funding, sending).

``ansinh demo`` and the first ``ansinh serve`` on an empty database: users for every role, a bank
API key, beneficiaries in Hà Nội and in a rural commune cluster of Điện Biên imported from a
generated xlsx, and twelve monthly runs computed by an officer, approved by a second person, funded
and sent; each month the banks' statements come back as camt.053, MT940 and xlsx files through the
statement import (credits, a few returns: closed accounts, deceased), then the banks' withdrawal
activity as CSV files through the withdrawal intake, and commune staff record assisted withdrawals
and cash handovers — so the dashboard and the follow-up list open on a system in use.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

import click
import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.models import Role
from app.auth.service import Principal, create_api_key, create_user
from app.database import session_scope
from app.demo_activity import (
    REMOTE_PROVINCES,
    SentPayout,
    bank_statement,
    funding_in,
    sent_payouts,
    withdrawal_csv,
    withdrawals_for,
)
from app.memory import cyclic_gc_paused
from app.payouts.service.compute import compute_run
from app.payouts.service.funding import record_funding
from app.payouts.service.ledger_steps import approve_run, funding_shortfalls, send_run
from app.payouts.service.runs import (
    FIRST_PAYABLE_PERIOD,
    add_months,
    create_run,
    format_period,
    payable_periods,
)
from app.payouts.service.settlement import settle_runs
from app.reconciliation_api.importer import import_statement_file
from app.registry.fake import BeneficiaryFaker, import_file_bytes
from app.registry.importer import import_beneficiaries
from app.registry.service import register_disbursement_account
from app.vietnam_time import VIETNAM, vietnam_today
from app.withdrawals_api.service import read_withdrawals
from reconciliation.withdrawal_files import WithdrawalRow
from reconciliation.withdrawals import CommuneWithdrawal, record_bank_withdrawals, record_commune_withdrawals

log = structlog.get_logger()

HANOI_COMMUNES = ("00070", "00073", "00004", "00008", "00025", "00256")
DIEN_BIEN_COMMUNES = ("03325", "03328", "03352", "03349")
BANKS = ("970436", "970405", "970418", "970415", "970422", "999888")
DEMO_PASSWORD = "ansinh-demo-2026"
USERS = (
    ("quantri", Role.admin, (), (), "Quản trị hệ thống"),
    ("canbo.lan", Role.officer, (), (), "Nguyễn Thị Lan"),
    ("pheduyet.minh", Role.approver, (), (), "Trần Văn Minh"),
    ("kiemtoan.thu", Role.auditor, (), (), "Lê Thị Thu"),
    ("xa.hoankiem", Role.commune_staff, (), ("00070", "00073"), "Phạm Thị Hoa"),
    ("xa.muongphang", Role.commune_staff, (), ("03325", "03328"), "Lò Văn Sơn"),
)
# Who records an assisted withdrawal or a cash handover: the demo commune user whose scope holds the
# person's commune (username, full name). Communes no demo user covers hand over cash too; the demo
# itself ("demo", as for the banks' files) records those.
COMMUNE_STAFF = {commune: (username, full_name)
                 for username, role, _, communes, full_name in USERS if role == Role.commune_staff
                 for commune in communes}
ASSISTED_COMMUNES = tuple(COMMUNE_STAFF)  # staff help people withdraw only where the demo has them
UNSTAFFED_RECORDER = "demo"
# Decree 20 categories with the share of the demo population in each.
CATEGORY_MIX = (("TGXH", "NCT_80", 40), ("TGXH", "NCT_NGHEO_60_80", 15), ("TGXH", "NCT_NGHEO_80", 8),
                ("TGXH", "NKT_DBN", 6), ("TGXH", "NKT_N", 8), ("TGXH", "NKT_N_TE_NCT", 5),
                ("HTXH", "HTXH_75", 15), ("NCC", "MVNAH", 3))


@dataclass
class DemoReport:
    users: list[tuple[str, str, str]]
    bank_key: str
    beneficiaries: int
    runs: list[str]
    statements: int = 0
    withdrawals: int = 0


async def database_is_empty(engine: AsyncEngine) -> bool:
    """True when nobody has been set up yet (no staff user, no beneficiary)."""
    async with session_scope(engine) as session:
        used = await session.scalar(text(
            "SELECT EXISTS (SELECT 1 FROM staff_user) OR EXISTS (SELECT 1 FROM beneficiary)"))
    return not used


def _people(count: int, seed: int, start: date) -> list[Any]:
    faker = BeneficiaryFaker(seed=seed, communes=HANOI_COMMUNES + DIEN_BIEN_COMMUNES, banks=BANKS, bank_share=0.88,
                             today=start)
    rng = random.Random(seed)
    opening_days = random.Random(f"{seed}:accounts opened")
    weights = [w for _, _, w in CATEGORY_MIX]
    people = []
    for _ in range(count):
        programme, category, _ = rng.choices(CATEGORY_MIX, weights)[0]
        person = faker.person(category=(programme, category), start_month=start)
        # Accounts opened over the year before the first paid month (the bank's date, not the import day).
        opened = start - timedelta(days=opening_days.randint(3, 365)) if person.account_number else None
        people.append(dataclasses.replace(person, account_opened=opened))
    return people


async def build_demo(engine: AsyncEngine, *, beneficiaries: int = 20_000, months: int = 12, seed: int = 2026,
                     today: date | None = None, echo: Any = click.echo) -> DemoReport:
    """Create the demo world; refuses a database that is already in use."""
    with cyclic_gc_paused():  # hundreds of thousands of long-lived rows
        return await _build_demo(engine, beneficiaries=beneficiaries, months=months, seed=seed, today=today,
                                 echo=echo)


async def _build_demo(engine: AsyncEngine, *, beneficiaries: int, months: int, seed: int, today: date | None,
                      echo: Any) -> DemoReport:
    if not await database_is_empty(engine):
        raise click.ClickException("the database is already in use; the demo only fills an empty one")
    # The last month whose pay day (the 10th) and returns (two days later) are behind us.
    current = ((today or vietnam_today()) - timedelta(days=12)).replace(day=1)
    first = add_months(current, -(months - 1))
    if first < FIRST_PAYABLE_PERIOD:
        most = (current.year - FIRST_PAYABLE_PERIOD.year) * 12 + current.month - FIRST_PAYABLE_PERIOD.month + 1
        raise click.ClickException(f"runs are paid from {format_period(FIRST_PAYABLE_PERIOD)} on: "
                                   f"at most {most} months up to {format_period(current)}")
    users = []
    async with session_scope(engine) as session:
        for username, role, provinces, communes, full_name in USERS:
            await create_user(session, username=username, password=DEMO_PASSWORD, role=role, provinces=provinces,
                              communes=communes, full_name=full_name, actor="demo")
            users.append((username, role.value, DEMO_PASSWORD))
        key = await create_api_key(session, bank_bin="970436", label="Vietcombank (demo)", actor="demo")
    officer = Principal(kind="staff", name="canbo.lan", role=Role.officer)
    echo(f"demo: importing {beneficiaries:,} beneficiaries from a generated xlsx…")
    content = import_file_bytes(_people(beneficiaries, seed, first), kind="xlsx")
    async with session_scope(engine) as session:
        outcome = await import_beneficiaries(session, content=content, filename="danh-sach-doi-tuong-demo.xlsx",
                                             principal=officer)
        if outcome.errors:
            raise click.ClickException(f"demo import rejected: {outcome.errors[:3]}")
        for number, bank_bin in enumerate(BANKS):
            await register_disbursement_account(session, bank_bin, f"1190{number:02d}0088{number:04d}", officer)
    runs = []
    opening: dict[str, int] = {}
    now = min(datetime.now(UTC), datetime.combine(current.replace(day=28), datetime.min.time(), tzinfo=UTC)
              if today is not None else datetime.now(UTC))
    activity = _Activity()
    statements_total = 0
    # Each month's statements come back (and its withdrawals are drawn) while the next month's runs work:
    # the runs do not depend on them (a return releases nothing, and only adds to a bank's funds).
    coming_back: asyncio.Future[int] | None = None
    async with session_scope(engine) as session:
        # A programme is paid from its first payable month on (HTXH has a base amount from 2025-07).
        payable_from = {programme: (await payable_periods(session, programme, today=current))[0]
                        for programme in ("TGXH", "HTXH", "NCC")}
    for index in range(months):
        period = add_months(first, index)
        for programme, since in payable_from.items():
            if since is not None and since <= period:
                runs.append(await _pay(engine, programme, period, current))
        if coming_back is not None:
            statements_total += await coming_back
        coming_back = asyncio.ensure_future(_month_back(engine, period, opening, seed, now, activity, echo))
    if coming_back is not None:
        statements_total += await coming_back
    withdrawals = await _record_withdrawals(engine, activity)
    echo(f"demo: {withdrawals:,} withdrawals from the banks' activity files and commune staff")
    async with session_scope(engine) as session:  # the runs whose every payout has its outcome
        await settle_runs(session, None, actor="demo", cause="demo")  # most were settled on the way
        settled = await session.scalar(text("SELECT count(*) FROM payout_run WHERE status = 'settled'"))
    echo(f"demo: {settled} of {len(runs)} runs settled (every payout credited, returned or handed over)")
    return DemoReport(users=users, bank_key=key, beneficiaries=beneficiaries, runs=runs,
                      statements=statements_total,
                      withdrawals=withdrawals)


async def _pay(engine: AsyncEngine, programme: str, period: date, today: date) -> str:
    """One programme's run for the month: computed by an officer, approved by a second person, funded, sent."""
    async with session_scope(engine) as session:
        run = await create_run(session, programme=programme, period=format_period(period), actor="canbo.lan",
                               today=today)
    await compute_run(engine, run.id, actor="canbo.lan")
    await approve_run(engine, run.id, actor="pheduyet.minh")
    async with session_scope(engine) as session:
        shortfalls = await funding_shortfalls(session, run.id)
        for shortfall in shortfalls.banks:
            await record_funding(session, bank_bin=shortfall["bank_bin"], programme=programme,
                                 amount=shortfall["shortfall"],
                                 reference=f"KB{format_period(period).replace('-', '')}{programme}"
                                           f"{shortfall['bank_bin']}",
                                 value_date=period.replace(day=5), actor="canbo.lan")
        for shortfall in shortfalls.communes:  # the cash the communes hand over
            await record_funding(session, commune_code=shortfall["commune_code"], programme=programme,
                                 amount=shortfall["shortfall"],
                                 reference=f"TM{format_period(period).replace('-', '')}{programme}"
                                           f"{shortfall['commune_code']}",
                                 value_date=period.replace(day=5), actor="canbo.lan")
    # The orders leave (and the cash goes to the communes) on the 8th, two days before pay day.
    await send_run(engine, run.id, actor="canbo.lan",
                   sent_at=datetime.combine(period.replace(day=8), time(9), tzinfo=VIETNAM))
    # The run's page tells its month's story, not the moment the demo was built: computed on the 20th of the
    # month before (the default schedule), approved on the 3rd, sent on the 8th. The audit log keeps the truth.
    async with session_scope(engine) as session:
        prepared = datetime.combine(add_months(period, -1).replace(day=20), time(8), tzinfo=VIETNAM)
        await session.execute(text(
            """UPDATE payout_run SET created_at = :prepared, computed_at = :prepared, approved_at = :approved
                WHERE id = :run"""),
            {"run": run.id, "prepared": prepared,
             "approved": datetime.combine(period.replace(day=3), time(10), tzinfo=VIETNAM)})
    return f"{programme} {format_period(period)}"


@dataclass
class _Activity:
    """What the banks and commune staff will report, gathered month by month and recorded at the end
    (each person's withdrawals are allocated once, over their whole history)."""

    by_bank: dict[str, list[dict[str, Any]]] = dataclasses.field(default_factory=dict)
    commune: list[CommuneWithdrawal] = dataclasses.field(default_factory=list)
    waiting: dict[Any, int] = dataclasses.field(default_factory=dict)  # left in each person's account


async def _month_back(engine: AsyncEngine, period: date, opening: dict[str, int], seed: int, now: datetime,
                      activity: _Activity, echo: Any) -> int:
    """The month's statements through the statement import, then its withdrawals drawn; how many statements."""
    statements = await _statements_back(engine, period, opening, seed)
    credited, cash = await _arrived(engine, period)
    await asyncio.to_thread(_draw_withdrawals, activity, period, credited, cash,
                            random.Random(f"{seed}:withdrawals:{period}"), now)
    echo(f"demo: {format_period(period)} computed, approved, funded and sent; {statements} bank statements back")
    return statements


async def _statements_back(engine: AsyncEngine, period: date, opening: dict[str, int], seed: int) -> int:
    """Each bank's statement for the month through the statement import, one after the other."""
    async with session_scope(engine) as session:
        payouts = await sent_payouts(session, period)
        funding = await funding_in(session, period)
        accounts = {r.bank_bin: r.account_number for r in await session.execute(text(
            "SELECT bank_bin, account_number FROM disbursement_account WHERE closed_at IS NULL"))}
        names = {r.bin: r.name for r in await session.execute(text("SELECT bin, name FROM bank"))}
    by_bank: dict[str, list[SentPayout]] = {}
    for payout in payouts:
        assert payout.bank_bin is not None
        by_bank.setdefault(payout.bank_bin, []).append(payout)
    banks = sorted(set(by_bank) | {f.bank_bin for f in funding})

    for bank_bin in banks:
        statement_file = await asyncio.to_thread(
            bank_statement, bank_bin, period, by_bank.get(bank_bin, []), [f for f in funding if f.bank_bin == bank_bin],
            opening.get(bank_bin, 0), accounts[bank_bin], names.get(bank_bin, bank_bin),
            random.Random(f"{seed}:statement:{bank_bin}:{period}"))
        async with session_scope(engine) as session:
            outcome = await import_statement_file(session, data=statement_file.content,
                                                  filename=statement_file.filename, bank_bin=bank_bin, actor="demo")
            if outcome.kind != "created":
                raise click.ClickException(f"demo statement {statement_file.filename} not taken: "
                                           f"{outcome.message_en} {outcome.errors[:3]}")
        opening[bank_bin] = statement_file.closing_balance
    return len(banks)


async def _arrived(engine: AsyncEngine, period: date) -> tuple[list[SentPayout], list[SentPayout]]:
    """The month's payouts that reached people: credited to accounts, and cash sent to the communes."""
    async with session_scope(engine) as session:
        return (await sent_payouts(session, period, status="credited"),
                await sent_payouts(session, period, channel="cash"))


def _draw_withdrawals(activity: _Activity, period: date, credited: list[SentPayout], cash: list[SentPayout],
                      rng: random.Random, now: datetime) -> None:
    """The month's withdrawals, assisted withdrawals and cash handovers (recorded by ``_record_withdrawals``)."""
    assisted: list[tuple[UUID, str, datetime, int, str]] = []
    for payout in credited:
        waiting = activity.waiting.pop(payout.beneficiary_id, 0)
        assert payout.credited_at is not None
        rows = withdrawals_for(payout, payout.credited_at, rng, now, waiting)
        left = payout.amount + waiting - sum(row["amount"] for row in rows)
        if left:
            activity.waiting[payout.beneficiary_id] = left
        if rows and payout.age >= 85 and payout.commune_code in ASSISTED_COMMUNES and rng.random() < 0.3:
            assisted.append((payout.beneficiary_id, payout.commune_code, rows[0]["occurred_at"],
                             payout.amount + waiting - left, "assisted"))
            continue
        assert payout.bank_bin is not None
        activity.by_bank.setdefault(payout.bank_bin, []).extend(rows)
    for payout in cash:  # the commune hands the cash over within days, the remote ones later
        delay = rng.uniform(2, 6) * (2.5 if payout.province_code in REMOTE_PROVINCES else 1)
        handed = datetime.combine(period.replace(day=10), datetime.min.time(), tzinfo=now.tzinfo) \
            + timedelta(days=delay, hours=9)
        if handed < now and rng.random() > 0.04:
            assisted.append((payout.beneficiary_id, payout.commune_code, handed, payout.amount, "cash_handover"))
    activity.commune.extend(_commune_withdrawal(*item) for item in assisted)


def _commune_withdrawal(beneficiary_id: UUID, commune_code: str, moment: datetime, amount: int,
                        channel: str) -> CommuneWithdrawal:
    """An assisted withdrawal or a cash handover, recorded by the person's commune's demo user."""
    recorded_by, staff_name = COMMUNE_STAFF.get(commune_code, (UNSTAFFED_RECORDER, "Cán bộ xã"))
    return CommuneWithdrawal(
        beneficiary_id=beneficiary_id, occurred_at=moment, amount=amount, channel=channel,
        helper_name=staff_name if channel == "assisted" else "Cán bộ xã", recorded_by=recorded_by,
        note="Hỗ trợ rút tại quầy" if channel == "assisted" else "Chi trả tiền mặt tại nhà văn hoá")


def _read_activity_file(rows: list[dict[str, Any]]) -> tuple[list[WithdrawalRow], str, bytes]:
    """A bank's activity file as the bank sends it, read by the intake's reader (and the file, kept)."""
    content = withdrawal_csv(rows)
    return (*read_withdrawals(content, None), content)


async def _record_withdrawals(engine: AsyncEngine, activity: _Activity) -> int:
    """Each bank's withdrawal activity file through the intake, and commune staff's records.

    The files are read one after the other in a thread; a bank's rows are stored while the next file is
    read, two banks at a time (one stores its rows while the other's people are reallocated)."""

    async def commune() -> int:
        async with session_scope(engine) as session:
            await record_commune_withdrawals(session, activity.commune)
        return len(activity.commune)

    async def bank(bank_bin: str, checked: list[WithdrawalRow], fmt: str, content: bytes,
                   slots: asyncio.Semaphore) -> int:
        async with slots, session_scope(engine) as session:
            result = await record_bank_withdrawals(session, bank_bin=bank_bin, rows=checked, recorded_by="demo",
                                                   source_name=f"rut-tien-{bank_bin}.csv", file_format=fmt,
                                                   sha256=hashlib.sha256(content).digest(), content=content)
        return result.accepted

    slots = asyncio.Semaphore(2)
    stored = [asyncio.ensure_future(commune())]
    for bank_bin, rows in sorted(activity.by_bank.items()):
        checked, fmt, content = await asyncio.to_thread(_read_activity_file, rows)
        stored.append(asyncio.ensure_future(bank(bank_bin, checked, fmt, content, slots)))
    return sum(await asyncio.gather(*stored))


def print_report(report: DemoReport, base_url: str, echo: Any = click.echo) -> None:
    """Sign-in details for every demo role, at ``base_url`` (where ``ansinh serve`` listens:
    ``Settings.local_url``), and the bank key (shown once)."""
    echo("")
    echo(f"Demo sign-in / Đăng nhập thử ({base_url}/login):")
    for username, role, password in report.users:
        echo(f"  {username:16s} {role:14s} {password}")
    echo(f"Bank API key (Vietcombank 970436), shown once: {report.bank_key}")
    echo(f"{report.beneficiaries:,} beneficiaries, {len(report.runs)} payout runs sent, "
         f"{report.statements} bank statements and {report.withdrawals:,} withdrawals recorded")
