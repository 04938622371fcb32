"""Time-to-withdrawal summary: a run's payouts count from its approval, not from its compute.

The summary counted every payout as soon as compute wrote it, so a run computed and not approved — which
an officer may recompute or cancel — showed in the report and the dashboard (payouts, amount) as if it
were being paid. Now the summary's triggers key a payout through its run only when the run is approved or
later (``approved``, ``sending``, ``sent``, ``settled``, ``closed``):

- the payout triggers ignore the payouts of a run being computed or computed (writing them costs the
  summary nothing: compute's chunks no longer look their people up);
- a run that becomes approved adds its payouts (its withheld ones excluded) in the approval's transaction,
  one aggregate over the run's payouts; a run that would stop being counted takes them away again;
- a run's period or programme change, and a person's sex or birth date change, move only counted payouts.

The upgrade takes the payouts of runs not approved out of the summary.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-01
"""

import importlib

from migrations.helpers import execute_script

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None

_summary = importlib.import_module("migrations.versions.0012_withdrawal_summary")
_by_row = importlib.import_module("migrations.versions.0017_summary_by_row")

UNCOUNTED = ("draft", "computing", "computed", "cancelled")  # a cancelled run has no payouts left
_UNCOUNTED_SQL = ", ".join(f"'{status}'" for status in UNCOUNTED)


def _counted(status: str) -> str:
    return f"({status} NOT IN ({_UNCOUNTED_SQL}))"


_RUN_COUNTED = f"JOIN payout_run r ON r.id = f.run_id AND {_counted('r.status')}"
_JOIN_BOTH = f"{_RUN_COUNTED} JOIN beneficiary b ON b.id = f.beneficiary_id"
_JOIN_BY_ROW = _by_row._JOIN_BY_ROW.replace("JOIN payout_run r ON r.id = f.run_id", _RUN_COUNTED)
assert _JOIN_BY_ROW != _by_row._JOIN_BY_ROW


def _person_function(run_join: str) -> str:
    """A person's sex or birth date corrected: their (counted) payouts move to other groups."""
    facts = _summary._payout_facts("p")
    return f"""
        CREATE OR REPLACE FUNCTION withdrawal_summary_person() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            {_summary._apply_deltas(
                _summary._with_keys(f"SELECT {facts} FROM payout p WHERE p.beneficiary_id = OLD.id", "-1",
                                    "r.period", "r.programme_code", "OLD.sex", "OLD.date_of_birth", run_join)
                + " UNION ALL "
                + _summary._with_keys(f"SELECT {facts} FROM payout p WHERE p.beneficiary_id = NEW.id", "1",
                                      "r.period", "r.programme_code", "NEW.sex", "NEW.date_of_birth", run_join))};
            UPDATE withdrawal_partial w SET sex = NEW.sex, age_band = withdrawal_age_band(w.period, NEW.date_of_birth)
              FROM payout p WHERE p.beneficiary_id = NEW.id AND w.payout_id = p.id;
            RETURN NULL;
        END;
        $$;"""


def _run_function(only_counted: bool) -> str:
    """A run's period or programme changed: its payouts move to other groups (if they are counted)."""
    facts = _summary._payout_facts("p")
    join = "JOIN beneficiary b ON b.id = f.beneficiary_id"
    move = f"""{_summary._apply_deltas(
                _summary._with_keys(f"SELECT {facts} FROM payout p WHERE p.run_id = OLD.id", "-1",
                                    "OLD.period", "OLD.programme_code", "b.sex", "b.date_of_birth", join)
                + " UNION ALL "
                + _summary._with_keys(f"SELECT {facts} FROM payout p WHERE p.run_id = NEW.id", "1",
                                      "NEW.period", "NEW.programme_code", "b.sex", "b.date_of_birth", join))};
            UPDATE withdrawal_partial w SET period = NEW.period, programme_code = NEW.programme_code,
                   age_band = withdrawal_age_band(NEW.period, b.date_of_birth)
              FROM payout p JOIN beneficiary b ON b.id = p.beneficiary_id
             WHERE p.run_id = NEW.id AND w.payout_id = p.id;"""
    body = f"IF {_counted('OLD.status')} THEN {move} END IF;" if only_counted else move
    return f"""
        CREATE OR REPLACE FUNCTION withdrawal_summary_run() RETURNS trigger LANGUAGE plpgsql
        SET work_mem = '128MB' AS $$
        BEGIN
            {body}
            RETURN NULL;
        END;
        $$;"""


def _run_payouts(sign: str, run: str) -> tuple[str, str]:
    """(summary deltas, partial rows) of the payouts of run ``run`` (an expression), keyed by that run as it
    is now (``r``), with ``sign``."""
    facts = f"SELECT {_summary._payout_facts('p')} FROM payout p WHERE p.run_id = {run}"
    join = "JOIN payout_run r ON r.id = f.run_id JOIN beneficiary b ON b.id = f.beneficiary_id"
    rows = _summary._with_keys(facts, sign, "r.period", "r.programme_code", "b.sex", "b.date_of_birth", join)
    partial = _summary._with_keys(facts, sign, "r.period", "r.programme_code", "b.sex", "b.date_of_birth", join,
                                  ("payout_id",))
    return _summary._apply_deltas(rows), _summary._partial_rows(partial)


def upgrade() -> None:
    # EXECUTE: planned for the run at hand (a plan cached for a run of ten payouts would loop a million times).
    counted_deltas, counted_partial = _run_payouts("1", "$1")
    uncounted_deltas, _ = _run_payouts("-1", "$1")
    execute_script(
        _summary.payout_summary_function(_JOIN_BOTH, replace=True, few=(_by_row.FEW_ROWS, _JOIN_BY_ROW))
        + _person_function(_RUN_COUNTED)
        + _run_function(only_counted=True)
        + f"""
        -- A run approved (or back from it): its payouts join (or leave) the summary, in the same transaction.
        CREATE FUNCTION withdrawal_summary_run_status() RETURNS trigger LANGUAGE plpgsql
        SET work_mem = '128MB' SET enable_sort = off AS $$
        BEGIN
            IF {_counted('NEW.status')} THEN
                EXECUTE $sql$ {counted_deltas} $sql$ USING NEW.id;
                EXECUTE $sql$ {counted_partial} $sql$ USING NEW.id;
            ELSE
                EXECUTE $sql$ {uncounted_deltas} $sql$ USING NEW.id;
                DELETE FROM withdrawal_partial w USING payout p WHERE p.run_id = NEW.id AND w.payout_id = p.id;
            END IF;
            RETURN NULL;
        END;
        $$;
        CREATE TRIGGER withdrawal_summary_run_status AFTER UPDATE OF status ON payout_run
            FOR EACH ROW WHEN ({_counted('OLD.status')} IS DISTINCT FROM {_counted('NEW.status')})
            EXECUTE FUNCTION withdrawal_summary_run_status();
        """
    )
    # What the summary counted of runs not approved yet goes.
    facts = f"""SELECT {_summary._payout_facts('p')} FROM payout p JOIN payout_run q ON q.id = p.run_id
                 WHERE NOT {_counted('q.status')}"""
    execute_script(f"""
        {_summary._apply_deltas(_summary._from_payouts(facts, "-1"))};
        DELETE FROM withdrawal_partial w USING payout p JOIN payout_run q ON q.id = p.run_id
         WHERE w.payout_id = p.id AND NOT {_counted('q.status')};
        SELECT withdrawal_summary_compact();
        """)


def downgrade() -> None:
    facts = f"""SELECT {_summary._payout_facts('p')} FROM payout p JOIN payout_run q ON q.id = p.run_id
                 WHERE NOT {_counted('q.status')}"""
    execute_script(
        """
        DROP TRIGGER withdrawal_summary_run_status ON payout_run;
        DROP FUNCTION withdrawal_summary_run_status();
        """
        + _summary.payout_summary_function(replace=True, few=(_by_row.FEW_ROWS, _by_row._JOIN_BY_ROW))
        + _person_function("JOIN payout_run r ON r.id = f.run_id")
        + _run_function(only_counted=False)
        + f"""
        {_summary._apply_deltas(_summary._from_payouts(facts, "1"))};
        {_summary._partial_rows(_summary._from_payouts(facts, "1", ("payout_id",)))};
        SELECT withdrawal_summary_compact();
        """
    )
