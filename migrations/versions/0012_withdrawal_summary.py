"""Time-to-withdrawal summary: the report reads a few thousand summary rows instead of every payout.

Each payout contributes, by the database's own triggers, to
- ``withdrawal_summary``: counts and sums per (period, commune, programme, bank, channel, sex, age band):
  payouts, amount, arrived ("credited"), withdrawn, withdrawn within 1/3/7/30 days, never and partly
  withdrawn, and the amount of arrived payouts nothing was withdrawn from;
- ``withdrawal_days``: a histogram of the whole hours to withdraw (rounded up) of withdrawn payouts per
  (period, commune) and per period, for the medians and p90s by commune and province, of the totals and
  of the trend (by the other groupings the report reads the period's withdrawn payouts for them);
- ``withdrawal_partial``: the payouts withdrawn in part (their undrawn rest is read with their allocations).

Triggers, not the code paths, keep them: a statement-level trigger with transition tables on ``payout``
(INSERT, UPDATE, DELETE; an UPDATE that changes nothing the report reads costs a join of the transition
tables and nothing more), and row triggers on the rare changes of a person's sex or birth date and of a
run's period or programme. Summary and histogram rows are *deltas*: a statement appends its aggregated
changes and never updates a row, so concurrent writers (a bank's statement, another bank's withdrawals,
a run being sent) take no lock on them and cannot deadlock on them; readers sum by key, and
``withdrawal_summary_compact()`` (a scheduled job) folds the rows of a key into one.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30
"""

from migrations.helpers import execute_script

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_KEY = "period, commune_code, programme_code, bank_key, channel, sex, age_band"


def _payout_facts(alias: str) -> str:
    """The per-payout values the summary reads, from payout columns under ``alias``."""
    arrived = f"({alias}.status = 'credited' OR ({alias}.channel = 'cash' AND {alias}.status = 'sent'))"
    return f"""{alias}.run_id, {alias}.beneficiary_id, {alias}.id AS payout_id, {alias}.commune_code,
        {alias}.channel, coalesce({alias}.bank_bin, 'cash') AS bank_key, {alias}.amount,
        {alias}.status = 'cancelled' AS cancelled, {arrived} AS arrived,
        {alias}.first_withdrawal_at IS NULL AS untouched, {alias}.withdrawn_at IS NOT NULL AS done,
        CASE WHEN {arrived} AND {alias}.withdrawn_at IS NOT NULL
             THEN withdrawal_hours({alias}.withdrawn_at, coalesce({alias}.credited_at, {alias}.sent_at)) END AS hours"""


# What the summary reads of a payout ((run_id, beneficiary_id) is the payout: one per run and person).
_FACT_NAMES = ("run_id", "beneficiary_id", "commune_code", "channel", "bank_key", "amount", "cancelled", "arrived",
               "untouched", "done", "hours")


def _apply_deltas(facts: str) -> str:
    """Statements appending the summary and histogram deltas of ``facts``: rows (sign, period,
    programme_code, sex, age_band, <_FACT_NAMES>) of non-cancelled payouts."""
    within = ",\n".join(
        f"coalesce(sum(sign) FILTER (WHERE hours <= {24 * days}), 0) AS within_{days}d" for days in (1, 3, 7, 30))
    return f"""
        WITH facts AS MATERIALIZED ({facts}),
        summary AS (
            INSERT INTO withdrawal_summary ({_KEY}, payouts, amount, credited, withdrawn, within_1d, within_3d,
                                            within_7d, within_30d, never_withdrawn, partly_withdrawn,
                                            untouched_amount)
            SELECT * FROM (
                SELECT {_KEY}, sum(sign) AS payouts, sum(sign * amount) AS amount,
                       coalesce(sum(sign) FILTER (WHERE arrived), 0) AS credited,
                       coalesce(sum(sign) FILTER (WHERE hours IS NOT NULL), 0) AS withdrawn,
                       {within},
                       coalesce(sum(sign) FILTER (WHERE arrived AND untouched), 0) AS never_withdrawn,
                       coalesce(sum(sign) FILTER (WHERE arrived AND NOT untouched AND NOT done), 0) AS partly,
                       coalesce(sum(sign * amount) FILTER (WHERE arrived AND untouched), 0) AS untouched_amount
                  FROM facts WHERE NOT cancelled
                 GROUP BY {_KEY}) delta
             -- changes that cancel out (a payout sent, still not arrived) leave no row
             WHERE (payouts, amount, credited, withdrawn, within_1d, within_3d, within_7d, within_30d,
                    never_withdrawn, partly, untouched_amount) <> (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        )
        -- Per commune (any scope), and all communes together (unscoped totals and trends in a few hundred rows).
        INSERT INTO withdrawal_days (period, dimension, group_key, hours, payouts)
        SELECT period, 'commune', commune_code, hours, sum(sign)
          FROM facts WHERE NOT cancelled AND hours IS NOT NULL
         GROUP BY period, commune_code, hours HAVING sum(sign) <> 0
        UNION ALL
        SELECT period, 'all', '', hours, sum(sign)
          FROM facts WHERE NOT cancelled AND hours IS NOT NULL
         GROUP BY period, hours HAVING sum(sign) <> 0
    """  # noqa: S608 - constant fragments only


def _with_keys(rows: str, sign: str, period: str, programme: str, sex: str, dob: str, joins: str,
               extra: tuple[str, ...] = ()) -> str:
    names = ", ".join(f"f.{name}" for name in _FACT_NAMES + extra)
    return f"""SELECT {sign} AS sign, {period} AS period, {programme} AS programme_code, {sex} AS sex,
                      withdrawal_age_band({period}, {dob}) AS age_band, {names}
                 FROM ({rows}) f {joins}"""


_JOIN_BOTH = "JOIN payout_run r ON r.id = f.run_id JOIN beneficiary b ON b.id = f.beneficiary_id"


def _from_payouts(rows: str, sign: str, extra: tuple[str, ...] = (), joins: str = _JOIN_BOTH) -> str:
    """Facts of payout rows (``rows`` selects ``_payout_facts``), keyed by their run and person as stored."""
    return _with_keys(rows, sign, "r.period", "r.programme_code", "b.sex", "b.date_of_birth", joins, extra)


def _partial_rows(facts: str) -> str:
    """Payouts withdrawn in part, from ``facts`` with their ``payout_id``."""
    return f"""INSERT INTO withdrawal_partial (payout_id, {_KEY}, amount)
               SELECT payout_id, {_KEY}, amount FROM ({facts}) f
                WHERE NOT cancelled AND arrived AND NOT untouched AND NOT done"""


_PAYOUT_FACTS_NEW = f"SELECT {_payout_facts('n')} FROM new_rows n"
_PAYOUT_FACTS_OLD = f"SELECT {_payout_facts('o')} FROM old_rows o"
_OLD_PARTIAL = """DELETE FROM withdrawal_partial w USING old_rows o
                   WHERE w.payout_id = o.id AND o.first_withdrawal_at IS NOT NULL AND o.withdrawn_at IS NULL"""

# An UPDATE: the old (sign -1) and new (+1) versions of the payouts whose report values changed (a
# payout sent to a bank, not arrived before or after, changes nothing here). Ids never change.
_CHANGED = "(" + ", ".join(f"{{a}}.{c}" for c in ("run_id", "beneficiary_id", "commune_code", "channel", "bank_bin",
                                                  "amount", "first_withdrawal_at IS NULL")) + \
    ", {a}.status = 'cancelled', ({a}.status = 'credited' OR ({a}.channel = 'cash' AND {a}.status = 'sent'))" \
    ", CASE WHEN {a}.withdrawn_at IS NOT NULL THEN withdrawal_hours({a}.withdrawn_at, " \
    "coalesce({a}.credited_at, {a}.sent_at)) END)"
_UPDATED_FACTS = f"""
    SELECT v.* FROM old_rows o JOIN new_rows n ON n.id = o.id
     CROSS JOIN LATERAL (SELECT -1 AS sign, {_payout_facts('o')} UNION ALL SELECT 1, {_payout_facts('n')}) v
     WHERE {_CHANGED.format(a='o')} IS DISTINCT FROM {_CHANGED.format(a='n')}"""


def _payout_branches(joins: str) -> dict[str, str]:
    """The trigger's statements for an INSERT, a DELETE and an UPDATE, facts keyed through ``joins``."""
    return {
        "INSERT": f"""
                EXECUTE $sql$ {_apply_deltas(_from_payouts(_PAYOUT_FACTS_NEW, "1", joins=joins))} $sql$;
                EXECUTE $sql$ {_partial_rows(_from_payouts(_PAYOUT_FACTS_NEW, "1", ("payout_id",), joins=joins))} $sql$;""",
        "DELETE": f"""
                EXECUTE $sql$ {_apply_deltas(_from_payouts(_PAYOUT_FACTS_OLD, "-1", joins=joins))} $sql$;
                EXECUTE $sql$ {_OLD_PARTIAL} $sql$;""",
        "UPDATE": f"""
                EXECUTE $sql$ {_apply_deltas(_from_payouts(_UPDATED_FACTS, "f.sign", joins=joins))} $sql$;
                EXECUTE $sql$ {_OLD_PARTIAL} $sql$;
                EXECUTE $sql$ {_partial_rows(_from_payouts(_PAYOUT_FACTS_NEW, "1", ("payout_id",), joins=joins))}
                    AND NOT EXISTS (SELECT 1 FROM withdrawal_partial w WHERE w.payout_id = f.payout_id) $sql$;""",
    }


def payout_summary_function(joins: str = _JOIN_BOTH, replace: bool = False, *, few: tuple[int, str] | None = None) -> str:
    """The statement-level trigger function on payout, its facts keyed through ``joins`` (run and person);
    ``few`` = (n, other joins): statements of at most n rows key them through the other joins."""
    many = _payout_branches(joins)
    if few is None:
        chosen = many
    else:
        limit, few_joins = few
        small = _payout_branches(few_joins)
        rows = {"INSERT": "new_rows", "DELETE": "old_rows", "UPDATE": "new_rows"}
        chosen = {op: f"""
            IF (SELECT count(*) FROM {rows[op]}) <= {limit} THEN {small[op]}
            ELSE {many[op]}
            END IF;""" for op in many}
    return f"""
        -- EXECUTE plans each statement for the transition tables at hand: a plan cached for a statement
        -- of a few rows (nested loops) would take hours on the next one of a million.
        CREATE {"OR REPLACE " if replace else ""}FUNCTION withdrawal_summary_payout() RETURNS trigger LANGUAGE plpgsql
        -- A million changed payouts: hash joins and hashed aggregates in memory (the transition tables have no
        -- statistics: the planner expects millions of groups and would sort them).
        SET work_mem = '128MB' SET enable_sort = off
        AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN{chosen["INSERT"]}
            ELSIF TG_OP = 'DELETE' THEN{chosen["DELETE"]}
            ELSE{chosen["UPDATE"]}
            END IF;
            RETURN NULL;
        END;
        $$;
    """


def upgrade() -> None:
    execute_script(
        f"""
        -- The report's age bands, date_part('year', age(period, date_of_birth)) >= 80 and so on, as date
        -- comparisons (a tenth of the cost of age()); the same for a period on the first of a month.
        CREATE FUNCTION withdrawal_age_band(period date, date_of_birth date) RETURNS text
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
            SELECT CASE WHEN date_of_birth <= period - interval '80 years' THEN '80+'
                        WHEN date_of_birth <= period - interval '70 years' THEN '70-79'
                        WHEN date_of_birth <= period - interval '60 years' THEN '60-69'
                        ELSE 'under_60' END
        $$;
        -- Whole hours from arrival to withdrawal, rounded up: "within N days" (<= 24 N hours) stays exact.
        -- (float8 seconds hold microseconds exactly for any realistic wait; numeric costs several times more.)
        CREATE FUNCTION withdrawal_hours(withdrawn_at timestamptz, arrived_at timestamptz) RETURNS int
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
            SELECT ceil(date_part('epoch', withdrawn_at - arrived_at) / 3600)::int
        $$;

        CREATE TABLE withdrawal_summary (
            period date NOT NULL,
            commune_code varchar(5) NOT NULL,
            programme_code varchar(16) NOT NULL,
            bank_key varchar(6) NOT NULL,  -- the payout's bank BIN, 'cash' for cash
            channel text NOT NULL,
            sex text NOT NULL,
            age_band text NOT NULL,
            payouts bigint NOT NULL,
            amount bigint NOT NULL,
            credited bigint NOT NULL,
            withdrawn bigint NOT NULL,
            within_1d bigint NOT NULL,
            within_3d bigint NOT NULL,
            within_7d bigint NOT NULL,
            within_30d bigint NOT NULL,
            never_withdrawn bigint NOT NULL,
            partly_withdrawn bigint NOT NULL,
            untouched_amount bigint NOT NULL,
            compacted boolean NOT NULL DEFAULT false
        );
        CREATE INDEX ix_withdrawal_summary_period ON withdrawal_summary (period, commune_code);
        CREATE INDEX ix_withdrawal_summary_fresh ON withdrawal_summary (period) WHERE NOT compacted;

        -- Per commune (dimension 'commune', group_key the commune code) and for all communes together
        -- ('all', group_key ''). Not per commune and group of another grouping: at a few thousand payouts
        -- per commune and month that is nearly a row per payout, and as dear to keep up.
        CREATE TABLE withdrawal_days (
            period date NOT NULL,
            dimension text NOT NULL CHECK (dimension IN ('commune', 'all')),
            group_key text NOT NULL,
            hours int NOT NULL,
            payouts bigint NOT NULL,
            compacted boolean NOT NULL DEFAULT false
        );
        CREATE INDEX ix_withdrawal_days_period ON withdrawal_days (period, dimension, group_key);
        CREATE INDEX ix_withdrawal_days_fresh ON withdrawal_days (period) WHERE NOT compacted;

        CREATE TABLE withdrawal_partial (
            payout_id uuid PRIMARY KEY,
            period date NOT NULL,
            commune_code varchar(5) NOT NULL,
            programme_code varchar(16) NOT NULL,
            bank_key varchar(6) NOT NULL,
            channel text NOT NULL,
            sex text NOT NULL,
            age_band text NOT NULL,
            amount bigint NOT NULL
        );
        CREATE INDEX ix_withdrawal_partial_period ON withdrawal_partial (period, commune_code);
        -- The report's accounts opened in the month (a range of days, not every account).
        CREATE INDEX ix_bank_account_effective_from ON bank_account (effective_from);

        {payout_summary_function()}
        CREATE TRIGGER withdrawal_summary_insert AFTER INSERT ON payout REFERENCING NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION withdrawal_summary_payout();
        CREATE TRIGGER withdrawal_summary_update AFTER UPDATE ON payout
            REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION withdrawal_summary_payout();
        CREATE TRIGGER withdrawal_summary_delete AFTER DELETE ON payout REFERENCING OLD TABLE AS old_rows
            FOR EACH STATEMENT EXECUTE FUNCTION withdrawal_summary_payout();
        CREATE FUNCTION withdrawal_summary_refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'TRUNCATE payout would leave withdrawal_summary behind: delete the rows instead'
                USING ERRCODE = 'insufficient_privilege';
        END;
        $$;
        CREATE TRIGGER withdrawal_summary_truncate BEFORE TRUNCATE ON payout
            FOR EACH STATEMENT EXECUTE FUNCTION withdrawal_summary_refuse_truncate();

        -- A person's sex or birth date corrected: their payouts move to other groups.
        CREATE FUNCTION withdrawal_summary_person() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            {_apply_deltas(
                _with_keys(f"SELECT {_payout_facts('p')} FROM payout p WHERE p.beneficiary_id = OLD.id", "-1",
                           "r.period", "r.programme_code", "OLD.sex", "OLD.date_of_birth",
                           "JOIN payout_run r ON r.id = f.run_id")
                + " UNION ALL "
                + _with_keys(f"SELECT {_payout_facts('p')} FROM payout p WHERE p.beneficiary_id = NEW.id", "1",
                             "r.period", "r.programme_code", "NEW.sex", "NEW.date_of_birth",
                             "JOIN payout_run r ON r.id = f.run_id"))};
            UPDATE withdrawal_partial w SET sex = NEW.sex, age_band = withdrawal_age_band(w.period, NEW.date_of_birth)
              FROM payout p WHERE p.beneficiary_id = NEW.id AND w.payout_id = p.id;
            RETURN NULL;
        END;
        $$;
        CREATE TRIGGER withdrawal_summary_person AFTER UPDATE OF sex, date_of_birth ON beneficiary
            FOR EACH ROW WHEN ((OLD.sex, OLD.date_of_birth) IS DISTINCT FROM (NEW.sex, NEW.date_of_birth))
            EXECUTE FUNCTION withdrawal_summary_person();

        -- A run's period or programme changed: its payouts move to other groups.
        CREATE FUNCTION withdrawal_summary_run() RETURNS trigger LANGUAGE plpgsql SET work_mem = '128MB' AS $$
        BEGIN
            {_apply_deltas(
                _with_keys(f"SELECT {_payout_facts('p')} FROM payout p WHERE p.run_id = OLD.id", "-1",
                           "OLD.period", "OLD.programme_code", "b.sex", "b.date_of_birth",
                           "JOIN beneficiary b ON b.id = f.beneficiary_id")
                + " UNION ALL "
                + _with_keys(f"SELECT {_payout_facts('p')} FROM payout p WHERE p.run_id = NEW.id", "1",
                             "NEW.period", "NEW.programme_code", "b.sex", "b.date_of_birth",
                             "JOIN beneficiary b ON b.id = f.beneficiary_id"))};
            UPDATE withdrawal_partial w SET period = NEW.period, programme_code = NEW.programme_code,
                   age_band = withdrawal_age_band(NEW.period, b.date_of_birth)
              FROM payout p JOIN beneficiary b ON b.id = p.beneficiary_id
             WHERE p.run_id = NEW.id AND w.payout_id = p.id;
            RETURN NULL;
        END;
        $$;
        CREATE TRIGGER withdrawal_summary_run AFTER UPDATE OF period, programme_code ON payout_run
            FOR EACH ROW WHEN ((OLD.period, OLD.programme_code) IS DISTINCT FROM (NEW.period, NEW.programme_code))
            EXECUTE FUNCTION withdrawal_summary_run();

        -- Fold each key's delta rows into one (rows of running transactions are not seen, so stay).
        -- One compaction at a time; writers only append, so nothing else waits on it.
        CREATE FUNCTION withdrawal_summary_compact() RETURNS bigint LANGUAGE plpgsql SET work_mem = '128MB' AS $$
        DECLARE
            folded bigint := 0;
            counted bigint;
        BEGIN
            IF NOT pg_try_advisory_xact_lock(hashtext('withdrawal_summary_compact')) THEN
                RETURN 0;
            END IF;
            WITH touched AS (SELECT DISTINCT {_KEY} FROM withdrawal_summary WHERE NOT compacted),
            gone AS (
                DELETE FROM withdrawal_summary s USING touched t
                 WHERE ({", ".join("s." + k for k in _KEY.split(", "))}) = ({", ".join("t." + k for k in _KEY.split(", "))})
                RETURNING s.*)
            INSERT INTO withdrawal_summary ({_KEY}, payouts, amount, credited, withdrawn, within_1d, within_3d,
                                            within_7d, within_30d, never_withdrawn, partly_withdrawn,
                                            untouched_amount, compacted)
            SELECT {_KEY}, sum(payouts), sum(amount), sum(credited), sum(withdrawn), sum(within_1d),
                   sum(within_3d), sum(within_7d), sum(within_30d), sum(never_withdrawn), sum(partly_withdrawn),
                   sum(untouched_amount), true
              FROM gone GROUP BY {_KEY}
            HAVING sum(payouts) <> 0 OR sum(amount) <> 0 OR sum(credited) <> 0 OR sum(withdrawn) <> 0
                OR sum(never_withdrawn) <> 0 OR sum(partly_withdrawn) <> 0 OR sum(untouched_amount) <> 0;
            GET DIAGNOSTICS counted = ROW_COUNT;
            folded := folded + counted;
            WITH touched AS (SELECT DISTINCT period, dimension, group_key FROM withdrawal_days WHERE NOT compacted),
            gone AS (
                DELETE FROM withdrawal_days d USING touched t
                 WHERE (d.period, d.dimension, d.group_key) = (t.period, t.dimension, t.group_key)
                RETURNING d.*)
            INSERT INTO withdrawal_days (period, dimension, group_key, hours, payouts, compacted)
            SELECT period, dimension, group_key, hours, sum(payouts), true
              FROM gone GROUP BY period, dimension, group_key, hours
            HAVING sum(payouts) <> 0;
            GET DIAGNOSTICS counted = ROW_COUNT;
            RETURN folded + counted;
        END;
        $$;

        INSERT INTO job_schedule (name, kind, cron) VALUES
            ('reports.compact_withdrawal_summary', 'reports.compact_withdrawal_summary', '*/10 * * * *');
        """
    )
    # Backfill: every payout so far, as one delta (then compacted).
    execute_script(
        f"""
        {_apply_deltas(_from_payouts(f"SELECT {_payout_facts('p')} FROM payout p", "1"))};
        {_partial_rows(_from_payouts(f"SELECT {_payout_facts('p')} FROM payout p", "1", ("payout_id",)))};
        SELECT withdrawal_summary_compact();
        """
    )


def downgrade() -> None:
    execute_script(
        """
        DELETE FROM job_schedule WHERE name = 'reports.compact_withdrawal_summary';
        DROP TRIGGER withdrawal_summary_run ON payout_run;
        DROP TRIGGER withdrawal_summary_person ON beneficiary;
        DROP TRIGGER withdrawal_summary_truncate ON payout;
        DROP TRIGGER withdrawal_summary_delete ON payout;
        DROP TRIGGER withdrawal_summary_update ON payout;
        DROP TRIGGER withdrawal_summary_insert ON payout;
        DROP FUNCTION withdrawal_summary_compact();
        DROP FUNCTION withdrawal_summary_run();
        DROP FUNCTION withdrawal_summary_person();
        DROP FUNCTION withdrawal_summary_refuse_truncate();
        DROP FUNCTION withdrawal_summary_payout();
        DROP INDEX ix_bank_account_effective_from;
        DROP TABLE withdrawal_partial;
        DROP TABLE withdrawal_days;
        DROP TABLE withdrawal_summary;
        DROP FUNCTION withdrawal_hours(timestamptz, timestamptz);
        DROP FUNCTION withdrawal_age_band(date, date);
        """
    )
