"""A hand-built month of payouts and withdrawals with known times to withdrawal (report tests).

Six people, March 2026, 650,000 đ each, credited (bank) or sent to the commune (cash) at T0:

| person | commune | channel | withdrawals | days to withdraw |
|---|---|---|---|---|
| A | 00070 | bank | 300,000 at T0+1d, then 350,000 at T0+2d (partial first) | 2 |
| B | 00070 | bank | 650,000 at T0−3d, before any credit (held) | 0 |
| C | 00070 | bank | none | never |
| D | 00070 | bank | 650,000 at T0+20d, then late: 650,000 at T0+4d | 4 |
| E | 00070 | cash | cash handed over at T0+1.5d | 1.5 |
| F | 00073 | bank | 650,000 at T0+10d | 10 |
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from app.auth.models import Role
from app.database import session_scope
from app.registry.fake import BeneficiaryFaker, FakePerson
from reconciliation.withdrawals import reallocate
from tests.support.actors import add_user, bank_key, sign_in
from tests.support.credit import credit_payouts
from tests.support.world import HANOI_COMMUNE, VIETCOMBANK, Office, person

CUA_NAM_COMMUNE = "00073"
T0 = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)  # 08:00 in Vietnam
AMOUNT = 650_000


def iso(moment: datetime) -> str:
    return moment.isoformat()


@dataclass
class WithdrawalWorld:
    office: Office
    people: dict[str, FakePerson]
    ids: dict[str, str] = field(default_factory=dict)
    payouts: dict[str, str] = field(default_factory=dict)
    bank_headers: dict[str, str] = field(default_factory=dict)
    commune_headers: dict[str, str] = field(default_factory=dict)

    def row(self, who: str, ref: str, at: datetime, amount: int = AMOUNT, channel: str = "atm") -> dict[str, Any]:
        return {"account_number": self.people[who].account_number, "occurred_at": iso(at), "amount": amount,
                "channel": channel, "bank_ref": ref}

    async def bank_post(self, rows: list[dict[str, Any]]) -> Any:
        return await self.office.client.post("/api/bank/withdrawals", json=rows, headers=self.bank_headers)

    async def as_commune_staff(self, username: str = "hoa.commune") -> dict[str, str]:
        self.office.client.cookies.clear()
        self.office.current = username
        return await sign_in(self.office.client, username)


async def build_sent_month(office: Office) -> WithdrawalWorld:
    """People A–F enrolled, the March run computed, approved and sent (nothing credited yet)."""
    faker = BeneficiaryFaker(seed=11)
    people = {name: person(faker, category="NCT_80", start="2026-03") for name in "ABCD"}
    people["E"] = person(faker, category="NCT_80", start="2026-03", bank=None)
    people["F"] = person(faker, commune=CUA_NAM_COMMUNE, category="NCT_80", start="2026-03")
    await office.import_people(list(people.values()))
    await office.register_disbursement(VIETCOMBANK)
    assert (await office.fund(VIETCOMBANK, 10_000_000, "NS-2026-03")).status_code in (200, 201)
    await office.run_cycle("2026-03")
    world = WithdrawalWorld(office=office, people=people)
    async with session_scope(office.engine) as session:
        for name, fake in people.items():
            row = (await session.execute(text(
                "SELECT b.id, p.id AS payout_id FROM beneficiary b JOIN payout p ON p.beneficiary_id = b.id "
                "WHERE b.national_id = :n"), {"n": fake.national_id})).one()
            world.ids[name], world.payouts[name] = str(row.id), str(row.payout_id)
    world.bank_headers = await bank_key(office.engine, VIETCOMBANK)
    await add_user(office.engine, "hoa.commune", Role.commune_staff, communes=(HANOI_COMMUNE,),
                   full_name="Nguyễn Thị Hoa")
    await add_user(office.engine, "nam.commune", Role.commune_staff, communes=(CUA_NAM_COMMUNE,))
    return world


async def build_month(office: Office) -> WithdrawalWorld:
    """The whole table of the module docstring, in an order that exercises holding and late activity."""
    world = await build_sent_month(office)
    early = await world.bank_post([world.row("B", "B-EARLY", T0 - timedelta(days=3)),
                                   world.row("A", "A-1", T0 + timedelta(days=1), amount=300_000)])
    assert early.status_code == 200, early.text
    await credit_payouts(office.engine, [world.payouts[n] for n in "ABCDF"], T0)
    async with session_scope(office.engine) as session:  # the cash left for the commune at T0
        await session.execute(text("UPDATE payout SET sent_at = :t0 WHERE id = :p"),
                              {"t0": T0, "p": world.payouts["E"]})
        await reallocate(session, [world.ids["E"]])
    later = await world.bank_post([world.row("A", "A-2", T0 + timedelta(days=2), amount=350_000),
                                   world.row("D", "D-LATE-20", T0 + timedelta(days=20)),
                                   world.row("F", "F-1", T0 + timedelta(days=10), channel="counter")])
    assert later.status_code == 200, later.text
    backdated = await world.bank_post([world.row("D", "D-4", T0 + timedelta(days=4))])
    assert backdated.status_code == 200, backdated.text
    csrf = await world.as_commune_staff()
    handover = await office.client.post(
        f"/api/beneficiaries/{world.ids['E']}/assisted-withdrawals", headers=csrf,
        json={"occurred_at": iso(T0 + timedelta(days=1, hours=12)), "amount": AMOUNT, "note": "Giao tại nhà"})
    assert handover.status_code == 201, handover.text
    return world
