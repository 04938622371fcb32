"""Payout speed: entitlements of one programme for a month, computed with the rates looked up once.

``entitlements_for_month(month)`` joins every enrolment to ``rates_in_force(month)``, and the planner
evaluates ``rate_in_force`` once per joined row (tens of microseconds each). The two-argument form
``entitlements_for_month(month, programme)`` gives the same rows as
``entitlements_for_month(month) WHERE programme_code = programme``: it looks the rates up once per
(programme, province) of the programme's benefit group, and applies the highest-amount rule among the
enrolments of that benefit group only (the only ones the rule compares), before keeping the programme's.

``payout_reference(period, serial)`` is ``app.payouts.references.make_reference`` in SQL, so a run's
payouts can be written by one INSERT ... SELECT. Damm's fold over GF(32) is linear (x -> 2x is), so the
check symbol is the XOR of one table lookup per symbol: ``_CHECK_TABLE[32 * i + v]`` is the share of value
v at position i of the 13-symbol body.

``ix_payout_commune_arrived`` named ``status`` in its predicate, which made every status change of a
payout (send, credit, return) a non-HOT update writing a new entry into each of the payout's nine
indexes. A plain index on ``commune_code`` serves the same follow-up list (a commune's payouts, status
filtered on the rows), and status changes become HOT updates in the pages' free room. Sending updates
every payout of a page in one transaction, so the page must hold a second version of all its rows
(the first ones are not dead yet): fillfactor 50 instead of 70.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

from migrations.helpers import execute_script

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_BODY_LENGTH = 13  # 'AS', YYMM, 7 serial symbols


def _times_two(value: int) -> int:
    return ((value << 1) ^ 0b100101) if value & 0b10000 else value << 1


def _check_share(position: int, value: int) -> int:
    for _ in range(_BODY_LENGTH - position):  # folded through the later symbols, then doubled once more
        value = _times_two(value)
    return value


_CHECK_TABLE = ",".join(str(_check_share(i, v)) for i in range(_BODY_LENGTH) for v in range(32))


def _share(position: int, value_sql: str) -> str:
    return f"t[{32 * position + 1} + {value_sql}]"


def _serial_symbol(k: int) -> str:
    return f"((serial >> {5 * (6 - k)}) & 31)::int"


_YEAR = "(extract(year FROM period)::int % 100)"
_MONTH = "extract(month FROM period)::int"
_PREFIX_VALUES = [str(_ALPHABET.index("A")), str(_ALPHABET.index("S")),
                  f"{_YEAR} / 10", f"{_YEAR} % 10", f"{_MONTH} / 10", f"{_MONTH} % 10"]
_CHECK_SQL = " # ".join(
    [_share(i, value) for i, value in enumerate(_PREFIX_VALUES)]
    + [_share(6 + k, _serial_symbol(k)) for k in range(7)]
)
_SYMBOLS_SQL = " || ".join(f"substr('{_ALPHABET}', {_serial_symbol(k)} + 1, 1)" for k in range(7))

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        """
        CREATE FUNCTION entitlements_for_month(month date, of_programme text)
        RETURNS TABLE (beneficiary_id uuid, enrolment_id bigint, programme_code varchar, category_code varchar,
                       benefit_group text, commune_code varchar, province_code varchar, base_amount bigint,
                       coefficient numeric, amount bigint)
        LANGUAGE sql STABLE
        -- A few programmes and provinces against a million people: hash joins, sorts in memory.
        SET enable_nestloop = off SET work_mem = '64MB'
        AS $$
            WITH grouped AS MATERIALIZED (
                SELECT g.code, g.benefit_group FROM programme g
                 WHERE g.benefit_group = (SELECT q.benefit_group FROM programme q WHERE q.code = of_programme)
            ), rates AS MATERIALIZED (
                SELECT r.programme_code, r.province_code, r.base_amount
                  FROM rates_in_force(month) r
                 WHERE r.programme_code IN (SELECT g.code FROM grouped g)
            ), candidate AS (
                SELECT a.beneficiary_id, e.id AS enrolment_id, e.programme_code, e.category_code,
                       g.benefit_group, a.commune_code, c.province_code, r.base_amount, e.coefficient,
                       monthly_amount(r.base_amount, e.coefficient) AS amount, e.start_month
                  FROM beneficiaries_active_in(month) a
                  JOIN enrolment e ON e.beneficiary_id = a.beneficiary_id
                  JOIN grouped g ON g.code = e.programme_code
                  JOIN commune c ON c.code = a.commune_code
                  JOIN rates r ON r.programme_code = e.programme_code AND r.province_code = c.province_code
                 WHERE e.start_month <= date_trunc('month', month)::date
                   AND (e.end_month IS NULL OR e.end_month >= date_trunc('month', month)::date)
            ), winner AS (
                SELECT DISTINCT ON (c.beneficiary_id, c.benefit_group)
                       c.beneficiary_id, c.enrolment_id, c.programme_code, c.category_code, c.benefit_group,
                       c.commune_code, c.province_code, c.base_amount, c.coefficient, c.amount
                  FROM candidate c
                 ORDER BY c.beneficiary_id, c.benefit_group, c.amount DESC, c.start_month, c.enrolment_id
            )
            SELECT w.* FROM winner w WHERE w.programme_code = of_programme
        $$;
        """
    )
    execute_script(
        f"""
        -- Both are single immutable, non-strict expressions: the planner inlines them into the INSERT
        -- that calls them (a function call per row would cost ~20 µs).
        CREATE FUNCTION payout_reference_with(period date, serial bigint, t int[]) RETURNS text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
            SELECT 'AS' || lpad(({_YEAR} * 100 + {_MONTH})::text, 4, '0') || {_SYMBOLS_SQL}
                   || substr('{_ALPHABET}', ({_CHECK_SQL}) + 1, 1)
        $$;
        CREATE FUNCTION payout_reference(period date, serial bigint) RETURNS text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
            SELECT payout_reference_with(period, serial, '{{{_CHECK_TABLE}}}'::int[])
        $$;

        -- make_reference refuses a serial beyond 7 base-32 symbols; the sequence now stops there too.
        ALTER SEQUENCE payout_serial MAXVALUE 34359738367;

        DROP INDEX ix_payout_commune_arrived;
        CREATE INDEX ix_payout_commune ON payout (commune_code);
        ALTER TABLE payout SET (fillfactor = 50);
        """
    )


def downgrade() -> None:
    execute_script(
        """
        ALTER TABLE payout SET (fillfactor = 70);
        DROP INDEX ix_payout_commune;
        CREATE INDEX ix_payout_commune_arrived ON payout (commune_code) WHERE status IN ('credited', 'sent');
        ALTER SEQUENCE payout_serial NO MAXVALUE;
        DROP FUNCTION payout_reference(date, bigint);
        DROP FUNCTION payout_reference_with(date, bigint, int[]);
        DROP FUNCTION entitlements_for_month(date, text);
        """
    )
