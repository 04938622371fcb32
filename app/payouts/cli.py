"""``ansinh payouts …``: run the monthly cycle from the command line, with a progress bar."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import date
from typing import NamedTuple
from uuid import UUID

import click
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.cli import CliContext, fail, pass_cli
from app.database import session_scope
from app.payouts.models import PayoutRun
from app.payouts.service.cash import settle_cash_pendings
from app.payouts.service.compute import compute_run
from app.payouts.service.errors import PayoutError, bank_funding_refusal, whole_run_refusal
from app.payouts.service.funding import record_funding
from app.payouts.service.ledger_steps import approve_run, send_run
from app.payouts.service.runs import create_run, parse_period, province_names
from app.payouts.service.settlement import close_run, settle_runs


async def _with_progress(engine: AsyncEngine, run_id: UUID, label: str, work: Awaitable[None]) -> None:
    """Run ``work`` while drawing the run's progress (read from the database) on stderr."""
    task = asyncio.ensure_future(work)
    shown = sys.stderr.isatty()
    with click.progressbar(length=1, label=label, file=sys.stderr, show_pos=True) as bar:
        while not task.done():
            await asyncio.sleep(0.5)
            async with session_scope(engine) as session:
                run = await session.get(PayoutRun, run_id)
            if run is not None and run.progress_total:
                bar.length = run.progress_total
                bar.update(run.progress_done - (bar.pos or 0))
            if shown:
                bar.render_progress()
        bar.update(max((bar.length or 0) - (bar.pos or 0), 0))
    await task


def _run_step(cli: CliContext, step: Callable[[AsyncEngine], Awaitable[None]]) -> None:
    try:
        cli.run(step)
    except PayoutError as error:
        fail(f"{error.vi} / {error.en}")


class StaffActor(NamedTuple):
    """The user an ``--as`` names: the username as stored (whatever the case typed) and the province limit."""

    username: str
    provinces: tuple[str, ...]


async def _user_with_role(engine: AsyncEngine, username: str, *roles: str, whole_run: bool = True) -> StaffActor:
    """Refuse an ``--as`` that is not an active user with one of ``roles`` before anything is written, and (for
    a step of a whole run, which pays every province) one limited to provinces, as the API does; the user, by
    the username as stored (``--as Minh.Approver`` is minh.approver: the preparer of a run cannot approve it
    under another spelling of their name), with the province limit (empty: none)."""
    async with session_scope(engine) as session:
        found = (await session.execute(text(
            "SELECT username, role, provinces FROM staff_user WHERE lower(username) = lower(:u) AND is_active"),
            {"u": username})).one_or_none()
    if found is None:
        raise PayoutError(f"Không có người dùng đang hoạt động tên '{username}' (--as)",
                          f"there is no active user named '{username}' (--as)")
    if found.role not in roles:
        raise PayoutError(f"{username} không phải người dùng có vai trò {' hoặc '.join(roles)}",
                          f"{username} is not an active {' or '.join(roles)}")
    provinces = tuple(found.provinces or ())
    if whole_run and provinces:
        async with session_scope(engine) as session:
            names = await province_names(session, provinces)
        raise PayoutError(*whole_run_refusal(provinces, names))
    return StaffActor(found.username, provinces)


async def _check_funding_scope(engine: AsyncEngine, provinces: tuple[str, ...], bank_bin: str | None,
                               commune_code: str | None) -> None:
    """A province-limited officer records a commune's cash in their provinces only, never a bank's funding."""
    if not provinces:
        return
    if bank_bin and bank_bin.strip():
        async with session_scope(engine) as session:
            names = await province_names(session, provinces)
        raise PayoutError(*bank_funding_refusal(provinces, names))
    if commune_code:
        async with session_scope(engine) as session:
            commune = (await session.execute(text(
                """SELECT c.name, c.province_code, p.name AS province_name FROM commune c
                     JOIN province p ON p.code = c.province_code WHERE c.code = :c"""),
                {"c": commune_code.strip()})).first()
            if commune is None or commune.province_code in provinces:
                return
            names = await province_names(session, provinces)
        # Provinces as staff know them, by name, with the code they may have typed: "Cao Bằng (04)".
        yours = ", ".join(f"{names.get(code, code)} ({code})" for code in provinces)
        where = f"{commune.name}, {commune.province_name}"
        raise PayoutError(f"Xã/phường {commune_code} ({where}) không thuộc tỉnh của bạn: {yours}",
                          f"commune {commune_code} ({where}) is not in your province(s): {yours}")


@click.group()
def payouts() -> None:
    """Payout runs: compute, approve, send, close; funding."""


@payouts.command("run")
@click.option("--programme", required=True, help="Programme code, e.g. TGXH.")
@click.option("--period", required=True, help="YYYY-MM.")
@click.option("--as", "actor", required=True, help="Username of the officer (or approver) preparing the run.")
@pass_cli
def run_command(cli: CliContext, programme: str, period: str, actor: str) -> None:
    """Create the period's regular run if needed and compute it."""

    async def step(engine: AsyncEngine) -> None:
        preparer = (await _user_with_role(engine, actor, "officer", "approver")).username
        async with session_scope(engine) as session:
            run = await session.scalar(select(PayoutRun).where(
                PayoutRun.programme_code == programme, PayoutRun.period == parse_period(period),
                PayoutRun.kind == "regular", PayoutRun.status != "cancelled"))
            if run is None:
                run = await create_run(session, programme=programme, period=period, actor=preparer)
        await _with_progress(engine, run.id, f"{programme} {period}", compute_run(engine, run.id, actor=preparer))
        async with session_scope(engine) as session:
            done = await session.get(PayoutRun, run.id)
        assert done is not None
        click.echo(f"run {done.id} {done.status}: {done.payout_count} payouts, {done.total_amount:,} đ")

    _run_step(cli, step)


@payouts.command("approve")
@click.argument("run_id", type=click.UUID)
@click.option("--as", "actor", required=True, help="Approver's username (not the preparer).")
@pass_cli
def approve_command(cli: CliContext, run_id: UUID, actor: str) -> None:
    """Approve a computed run as a second person."""

    async def step(engine: AsyncEngine) -> None:
        approver = (await _user_with_role(engine, actor, "approver")).username
        await _with_progress(engine, run_id, "approve", approve_run(engine, run_id, actor=approver))
        click.echo(f"run {run_id} approved by {approver}")

    _run_step(cli, step)


@payouts.command("send")
@click.argument("run_id", type=click.UUID)
@click.option("--as", "actor", required=True, help="Username of the officer sending the run.")
@pass_cli
def send_command(cli: CliContext, run_id: UUID, actor: str) -> None:
    """Create the payment orders of an approved run (checks funding per bank and, for cash, per commune)."""

    async def step(engine: AsyncEngine) -> None:
        officer = (await _user_with_role(engine, actor, "officer")).username
        await _with_progress(engine, run_id, "send", send_run(engine, run_id, actor=officer))
        click.echo(f"run {run_id} sent")

    _run_step(cli, step)


@payouts.command("close")
@click.argument("run_id", type=click.UUID)
@click.option("--as", "actor", required=True, help="Username of the officer closing the run.")
@pass_cli
def close_command(cli: CliContext, run_id: UUID, actor: str) -> None:
    """Close a settled run once nothing of it is left open (otherwise says what is, and closes nothing)."""

    async def step(engine: AsyncEngine) -> None:
        officer = (await _user_with_role(engine, actor, "officer")).username
        async with session_scope(engine) as session:  # a run with nothing in flight is settled whatever comes next
            await settle_runs(session, [run_id], actor=officer, cause="close")
        async with session_scope(engine) as session:
            await close_run(session, run_id, actor=officer)
        click.echo(f"run {run_id} closed by {officer}")

    _run_step(cli, step)


@payouts.command("fund")
@click.option("--bank", "bank_bin", default=None, help="BIN of the bank whose disbursement account received it.")
@click.option("--commune", "commune_code", default=None, help="Code of the commune given cash (instead of --bank).")
@click.option("--programme", required=True)
@click.option("--amount", type=int, required=True, help="Whole đồng.")
@click.option("--reference", required=True, help="The reference of the credit (bank) or of the cash handed over.")
@click.option("--value-date", type=click.DateTime(formats=["%Y-%m-%d"]), required=True)
@click.option("--as", "actor", required=True, help="Username of the officer recording the funding.")
@pass_cli
def fund_command(cli: CliContext, bank_bin: str | None, commune_code: str | None, programme: str, amount: int,
                 reference: str, value_date: object, actor: str) -> None:
    """Record budget that reached a bank's disbursement account, or a commune's cash for its cash payouts."""
    day: date = value_date.date()  # type: ignore[attr-defined]

    async def step(engine: AsyncEngine) -> None:
        officer, provinces = await _user_with_role(engine, actor, "officer", whole_run=False)
        await _check_funding_scope(engine, provinces, bank_bin, commune_code)
        async with session_scope(engine) as session:
            _, created = await record_funding(session, bank_bin=bank_bin, commune_code=commune_code,
                                              programme=programme, amount=amount, reference=reference,
                                              value_date=day, actor=officer)
        click.echo("funding recorded" if created else "funding already recorded (same reference)")

    _run_step(cli, step)


@payouts.command("settle-cash")
@click.option("--as", "actor", required=True, help="Username of the officer running the settlement.")
@pass_cli
def settle_cash_command(cli: CliContext, actor: str) -> None:
    """Post the cash payouts' transfers to the communes that an earlier send left pending (once; a rerun
    posts nothing)."""

    async def step(engine: AsyncEngine) -> None:
        officer = (await _user_with_role(engine, actor, "officer")).username
        settled = await settle_cash_pendings(engine, actor=officer)
        click.echo(f"đã ghi sổ / posted {settled.transfers:,} cash transfers, {settled.amount:,} đ")

    _run_step(cli, step)


commands = [payouts]
