"""A small world for payout, reconciliation and report tests, built through the real HTTP API."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any
from uuid import UUID

from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.auth.models import Role
from app.database import session_scope
from app.payouts.service.ledger_steps import funding_shortfalls
from app.registry.fake import BeneficiaryFaker, FakePerson, import_file_bytes
from app.vietnam_time import VIETNAM_TODAY_SQL
from tests.support.actors import add_user, sign_in

HANOI_COMMUNE = "00070"  # Phường Hoàn Kiếm, province 01 (Hà Nội: 650,000 from 2026-01)
CAO_BANG_COMMUNE = "01273"  # a commune of province 04 (national level 500,000)
VIETCOMBANK, BIDV = "970436", "970418"


def person(faker: BeneficiaryFaker, *, commune: str = HANOI_COMMUNE, programme: str = "TGXH",
           category: str = "NCT_80", start: str = "2026-01", bank: str | None = VIETCOMBANK) -> FakePerson:
    """A made-up beneficiary with the given enrolment and bank (None: cash channel)."""
    year, month = start.split("-")
    base = faker.person(commune_code=commune, with_bank=bank is not None, category=(programme, category),
                        start_month=date(int(year), int(month), 1))
    changes: dict[str, Any] = {}
    if bank is not None:
        bank_bin, number = faker.account(bank)
        changes.update(bank_bin=bank_bin, account_number=number)
    return dataclasses.replace(base, **changes)


async def register_by_sql(session: AsyncSession, people: list[FakePerson], ids: list[str] | None = None) -> None:
    """People registered by SQL (with the given ids), each with a TGXH NCT_80 enrolment from 2026-01 and a bank
    account — as rows written around the registry's services would be."""
    for index, p in enumerate(people):
        person_id = await session.scalar(text(
            """INSERT INTO beneficiary (id, national_id, full_name, date_of_birth, sex, commune_code, address, phone,
                                        channel)
               VALUES (coalesce(CAST(:id AS uuid), gen_random_uuid()), :nid, :name, :dob, :sex, :commune, :address,
                       :phone, 'bank') RETURNING id"""),
            {"id": ids[index] if ids else None, "nid": p.national_id, "name": p.full_name, "dob": p.date_of_birth,
             "sex": p.sex, "commune": p.commune_code, "address": p.address, "phone": p.phone})
        await session.execute(text(
            f"""INSERT INTO beneficiary_event (beneficiary_id, kind, effective_on, status_after, commune_after, reason,
                                                recorded_by)
                VALUES (:id, 'registered', {VIETNAM_TODAY_SQL}, 'active', :commune, 'test', 'test')"""),
            {"id": person_id, "commune": p.commune_code})
        await session.execute(text(
            """INSERT INTO enrolment (beneficiary_id, programme_code, category_code, coefficient, start_month,
                                       decision_number, created_by)
               VALUES (:id, 'TGXH', 'NCT_80', 1.0, DATE '2026-01-01', 'QĐ-99', 'test')"""), {"id": person_id})
        await session.execute(text(
            """INSERT INTO bank_account (beneficiary_id, bank_bin, account_number, holder_name, created_by,
                                          effective_from)
               VALUES (:id, :bin, :number, :holder, 'test', DATE '2025-12-01')"""),
            {"id": person_id, "bin": p.bank_bin, "number": p.account_number, "holder": p.holder_name})


class Office:
    """Signed-in clients of an officer and an approver on one app."""

    def __init__(self, client: AsyncTestClient[Any], engine: AsyncEngine) -> None:
        self.client = client
        self.engine = engine
        self.csrf: dict[str, str] = {}
        self.current = ""

    async def setup(self) -> Office:
        await add_user(self.engine, "lan.officer", Role.officer)
        await add_user(self.engine, "minh.approver", Role.approver)
        await add_user(self.engine, "thu.auditor", Role.auditor)
        await self.be("lan.officer")
        return self

    async def be(self, username: str) -> None:
        """Sign the shared client in as ``username``."""
        if self.current != username:
            self.client.cookies.clear()
            self.csrf = await sign_in(self.client, username)
            self.current = username

    async def post(self, path: str, **kwargs: Any) -> Any:
        return await self.client.post(path, headers=self.csrf, **kwargs)

    async def import_people(self, people: list[FakePerson]) -> None:
        await self.be("lan.officer")
        response = await self.post("/api/beneficiaries/import",
                                   files={"file": ("danh-sach.csv", import_file_bytes(people, kind="csv"), "text/csv")})
        assert response.status_code == 200, response.text

    async def beneficiary_id(self, national_id: str) -> str:
        async with session_scope(self.engine) as session:
            return str(await session.scalar(text("SELECT id FROM beneficiary WHERE national_id = :n"),
                                            {"n": national_id}))

    async def register_disbursement(self, bank_bin: str, account_number: str = "0011004455667") -> None:
        await self.be("lan.officer")
        response = await self.post(f"/api/banks/{bank_bin}/disbursement-accounts",
                                   json={"account_number": account_number})
        assert response.status_code in (200, 201), response.text

    async def fund(self, bank_bin: str | None, amount: int, reference: str, programme: str = "TGXH",
                   commune_code: str | None = None) -> Any:
        """Record funding at a bank, or (``bank_bin`` None) cash given to a commune."""
        await self.be("lan.officer")
        place = {"bank_bin": bank_bin} if bank_bin is not None else {"commune_code": commune_code}
        return await self.post("/api/funding", json={**place, "programme": programme, "amount": amount,
                                                     "reference": reference, "value_date": "2026-03-05"})

    async def compute(self, period: str, run_id: str | None = None, *, kind: str = "regular",
                      programme: str = "TGXH") -> dict[str, Any]:
        """Create (unless ``run_id``: compute it again) and compute a run as the officer; the compute's answer."""
        await self.be("lan.officer")
        if run_id is None:
            created = await self.post("/api/payout-runs", json={"programme": programme, "period": period,
                                                                "kind": kind})
            assert created.status_code == 201, created.text
            run_id = str(created.json()["id"])
        computed = await self.post(f"/api/payout-runs/{run_id}/compute")
        assert computed.status_code == 200, computed.text
        return dict(computed.json())

    async def approve(self, run_id: str) -> None:
        """Approve a computed run as the approver; signed in as the officer again."""
        await self.be("minh.approver")
        approved = await self.post(f"/api/payout-runs/{run_id}/approve")
        assert approved.status_code == 200, approved.text
        await self.be("lan.officer")

    async def approve_and_send(self, run_id: str) -> None:
        """Approve (approver) and send (officer) a computed run whose banks are funded."""
        await self.approve(run_id)
        sent = await self.post(f"/api/payout-runs/{run_id}/send")
        assert sent.status_code == 200, sent.text

    async def approved_run(self, period: str, programme: str = "TGXH") -> str:
        """Create and compute (officer) and approve (approver) one run; its id, signed in as the officer."""
        run_id = str((await self.compute(period, programme=programme))["id"])
        await self.approve(run_id)
        return run_id

    async def run_cycle(self, period: str, programme: str = "TGXH") -> dict[str, Any]:
        """Create, compute (officer), approve (approver) and send (officer) one run."""
        run_id = await self.approved_run(period, programme)
        await self.fund_cash(run_id, programme)
        await self.be("lan.officer")
        sent = await self.post(f"/api/payout-runs/{run_id}/send")
        assert sent.status_code == 200, sent.text
        return sent.json()

    async def fund_cash(self, run_id: str, programme: str = "TGXH") -> None:
        """Give each commune the cash the run's cash payouts still need there (banks are funded by the test)."""
        async with session_scope(self.engine) as session:
            communes = (await funding_shortfalls(session, UUID(run_id))).communes
        for shortfall in communes:
            funded = await self.fund(None, shortfall["shortfall"], f"TM-{run_id[:8]}-{shortfall['commune_code']}",
                                     programme, commune_code=shortfall["commune_code"])
            assert funded.status_code == 201, funded.text


async def count_rows(engine: Any, sql: str, **params: Any) -> int:
    """One number from the test database: ``SELECT count(*) …`` or a sum (0 when NULL)."""
    async with session_scope(engine) as session:
        return int(await session.scalar(text(sql), params) or 0)
