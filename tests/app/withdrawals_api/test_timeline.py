"""How much a withdrawal recorded at a moment may take: never money that arrived after it, nor so much that a
later withdrawal would be paired with money arriving after that one (first in, first out)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from app.withdrawals_api.timeline import MoneyEvent, arrival_covering, room_at, undrawn_at

T0 = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def arrived(n: float, amount: int = 650_000, channel: str = "bank") -> MoneyEvent:
    return MoneyEvent(at=day(n), amount=amount, channel=channel)


def withdrawn(n: float, amount: int) -> MoneyEvent:
    return MoneyEvent(at=day(n), amount=-amount)


def ordered(events: list[MoneyEvent]) -> list[MoneyEvent]:
    """As the database gives them: by time, arrivals first at one instant."""
    return sorted(events, key=lambda e: (e.at, -e.amount))


def test_nothing_before_the_money_arrived_and_all_of_it_from_that_instant():
    events = [arrived(0)]
    assert room_at(events, day(-9)) == 0
    assert room_at(events, day(0) - timedelta(seconds=1)) == 0
    assert room_at(events, day(0)) == 650_000  # at the very instant it arrived
    assert room_at(events, day(5)) == 650_000
    assert arrival_covering(events, day(-9), 650_000) == events[0]
    assert arrival_covering(events, day(-9), 650_001) is None


def test_what_was_withdrawn_by_then_and_what_later_withdrawals_need_are_not_available():
    march, april = arrived(0), arrived(30)
    # 300,000 withdrawn on day 1: 350,000 left from then on, all of March and April after day 30.
    events = ordered([march, april, withdrawn(1, 300_000)])
    assert room_at(events, day(0.5)) == 350_000  # the later 300,000 took March's first đồng
    assert room_at(events, day(2)) == 350_000
    assert room_at(events, day(31)) == 1_000_000
    # 650,000 withdrawn on day 20 used March up: a record on day 5 would push it before April arrived.
    events = ordered([march, april, withdrawn(20, 650_000)])
    assert room_at(events, day(5)) == 0
    assert undrawn_at(events, day(5)) == 650_000  # there, but taken by the withdrawal on day 20
    assert arrival_covering(events, day(5), 650_000) == april
    # Recorded out of order but consistent: April's handover first, then March's.
    events = ordered([march, april, withdrawn(31, 650_000)])
    assert room_at(events, day(2)) == 650_000
    # A bank withdrawal before any credit (held by the allocation) leaves nothing until the money covers it.
    events = ordered([withdrawn(-3, 650_000), march])
    assert room_at(events, day(1)) == 0
    assert room_at(events, day(-4)) == 0


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[MoneyEvent], list[tuple[float, int]]]:
    """Arrivals over two months and commune records tried in any order (day, amount)."""
    arrivals = [arrived(draw(st.integers(0, 60)) / 2, draw(st.sampled_from([350_000, 650_000, 1_000_000])))
                for _ in range(draw(st.integers(0, 4)))]
    tries = draw(st.lists(st.tuples(st.integers(-10, 130).map(lambda n: n / 2),
                                    st.sampled_from([100_000, 300_000, 650_000, 1_300_000])), max_size=8))
    return arrivals, tries


@settings(max_examples=300, deadline=None)
@given(histories())
def test_every_accepted_record_is_paired_first_in_first_out_with_money_that_arrived_before_it(history):
    arrivals, tries = history
    accepted: list[MoneyEvent] = []
    for number, (when, amount) in enumerate(tries):
        moment = day(when) + timedelta(microseconds=number)  # a later record sorts after earlier ones
        if amount <= room_at(ordered(arrivals + accepted), moment):
            accepted.append(MoneyEvent(at=moment, amount=-amount))
    # The allocation: the n-th đồng withdrawn takes the n-th đồng that arrived.
    arrived_upto = []
    total = 0
    for event in ordered(arrivals):
        total += event.amount
        arrived_upto.append((total, event.at))
    withdrawn_total = 0
    for event in sorted(accepted, key=lambda e: e.at):
        withdrawn_total += -event.amount
        money_at = next((at for upto, at in arrived_upto if upto >= withdrawn_total), None)
        assert money_at is not None and money_at <= event.at
