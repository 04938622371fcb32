"""Beneficiary pages: search (accents optional), a person's detail with payouts timeline, import."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.guards import current_principal, requires
from app.auth.models import Role
from app.database import session_scope
from app.payouts.service.history import return_reason_message
from app.reconciliation_api.blocks import open_account_blocks
from app.registry.importer.columns import COLUMNS as IMPORT_COLUMNS
from app.registry.importer.service import import_beneficiaries, record_rejected_import
from app.registry.routes import READERS
from app.registry.service import beneficiaries as registry
from app.registry.service.accounts import list_bank_accounts
from app.registry.sheets import rows_xlsx
from app.reports_api.routes import XLSX
from app.web.follow_up import DONE_KEYS, KIND_KEYS, VIETNAM, WITHDRAWAL_CHANNEL_KEYS
from app.web.render import page
from app.withdrawals_api.routes import COMMUNE_WRITERS
from app.withdrawals_api.service import list_follow_up_notes, list_withdrawals

PAGE_SIZE = 25
STATUS_KEYS = {"active": "person.status.active", "suspended": "person.status.suspended",
               "deceased": "person.status.deceased"}
CHANNEL_KEYS = {"bank": "person.channel.bank", "cash": "person.channel.cash"}
SEX_KEYS = {"male": "person.sex.male", "female": "person.sex.female"}
PAYOUT_STATUS_KEYS = {"scheduled": "payout.status.scheduled", "sent": "payout.status.sent",
                      "credited": "payout.status.credited", "returned": "payout.status.returned",
                      "cancelled": "payout.status.cancelled"}
EVENT_KEYS = {"registered": "person.event.registered", "suspended": "person.event.suspended", "resumed": "person.event.resumed",
              "deceased": "person.event.deceased", "moved": "person.event.moved"}
LABELS: dict[str, Any] = {"status_keys": STATUS_KEYS, "channel_keys": CHANNEL_KEYS, "sex_keys": SEX_KEYS,
          "payout_status_keys": PAYOUT_STATUS_KEYS, "event_keys": EVENT_KEYS}


def contacts_of(notes: list[Any], withdrawals: list[Any]) -> list[dict[str, Any]]:
    """Every time commune staff were in touch with the person, newest first: their notes (visits, calls) and
    the withdrawals they helped with or the cash they handed over (not cancelled) — the follow-up list's
    "last contact" is the first of these."""
    contacts = [{"at": n.at, "kind": n.kind, "recorded_by": n.recorded_by, "text": n.text} for n in notes]
    contacts += [{"at": w.occurred_at, "kind": w.channel, "recorded_by": w.recorded_by, "text": None}
                 for w in withdrawals if w.source == "commune" and w.cancelled_at is None]
    return sorted(contacts, key=lambda contact: contact["at"], reverse=True)


class BeneficiaryPages(Controller):
    path = "/beneficiaries"
    include_in_schema = False

    @get("/", guards=[requires(*READERS)])
    async def search(self, request: Request[Any, Any, Any], db_session: AsyncSession, q: str = "",
                     commune: str = "", status: str = "", page_number: int = 1) -> Response[Any]:
        """Search by name (accents optional), citizen ID or phone, in the caller's scope."""
        principal = current_principal(request)
        found = await registry.search_beneficiaries(
            db_session, principal, q=q or None, commune=commune or None,
            status=status if status in registry.STATUSES else None, page=page_number, page_size=PAGE_SIZE)
        pages = max(1, -(-found.total // PAGE_SIZE))
        return page(request, "beneficiaries/search.html", found=found, q=q, commune=commune, status=status,
                    pages=pages, statuses=registry.STATUSES,
                    may_import=principal is not None and principal.role == Role.officer, **LABELS)

    @get("/{beneficiary_id:uuid}", guards=[requires(*READERS)])
    async def detail(self, request: Request[Any, Any, Any], db_session: AsyncSession,
                     beneficiary_id: UUID) -> Response[Any]:
        """A person: identity, bank account history, enrolments, status events and payouts timeline."""
        principal = current_principal(request)
        person = await registry.beneficiary_detail(db_session, beneficiary_id, principal)
        accounts = await list_bank_accounts(db_session, beneficiary_id, principal)
        events = await registry.list_events(db_session, beneficiary_id, principal)
        notes = await list_follow_up_notes(db_session, beneficiary_id, principal) if principal else []
        withdrawals = await list_withdrawals(db_session, beneficiary_id, principal) if principal else []
        blocks = await open_account_blocks(db_session, beneficiary_id)
        done = request.query_params.get("done")
        return page(request, "beneficiaries/detail.html", person=person, accounts=accounts, events=events,
                    reason_messages={p["id"]: return_reason_message(p["return_reason"]) for p in person.payouts},
                    blocks={block.bank_account_id: block for block in blocks},
                    active_blocks=[block for block in blocks if block.active],
                    contacts=contacts_of(notes, withdrawals), withdrawals=withdrawals,
                    withdrawal_channel_keys=WITHDRAWAL_CHANNEL_KEYS,
                    done_key=DONE_KEYS.get(done or ""), kind_keys=KIND_KEYS,
                    may_record=principal is not None and principal.role in COMMUNE_WRITERS,
                    now_local=(datetime.now(UTC) + VIETNAM).replace(tzinfo=None, second=0, microsecond=0)
                    .isoformat(timespec="minutes"), **LABELS)

    @get("/import", guards=[requires(Role.officer)])
    async def import_form(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """Upload a beneficiary list (xlsx or csv); the columns it takes are listed, with a blank template."""
        return page(request, "beneficiaries/import.html", outcome=None, upload_id=None, filename=None,
                    columns=IMPORT_COLUMNS)

    @get("/import/template.xlsx", guards=[requires(Role.officer)])
    async def import_template(self) -> Response[bytes]:
        """A blank import file: the header row in Vietnamese (what the import reads first)."""
        return Response(rows_xlsx([[column.vi for column in IMPORT_COLUMNS]], title="Danh sách"), media_type=XLSX,
                        headers={"Content-Disposition": 'attachment; filename="mau-danh-sach-doi-tuong.xlsx"'})

    @post("/import", guards=[requires(Role.officer)])
    async def import_file(self, request: Request[Any, Any, Any], db_session: AsyncSession) -> Response[Any]:
        """Import the file: the summary, or every bad row with row, column and message (nothing stored)."""
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return page(request, "beneficiaries/import.html", status_code=422, outcome=None, upload_id=None,
                        filename=None, missing_file=True, columns=IMPORT_COLUMNS)
        content = await upload.read()
        principal = current_principal(request)
        assert principal is not None
        outcome = await import_beneficiaries(db_session, content=content, filename=upload.filename,
                                             principal=principal)
        upload_id = outcome.upload_id
        if not outcome.applied:
            await db_session.rollback()
            async with session_scope(request.app.state.engine) as own_session:
                upload_id = await record_rejected_import(own_session, content=content, filename=upload.filename,
                                                         principal=principal, outcome=outcome)
        return page(request, "beneficiaries/import.html", status_code=200 if outcome.applied else 422,
                    outcome=outcome, upload_id=upload_id, filename=upload.filename, columns=IMPORT_COLUMNS)
