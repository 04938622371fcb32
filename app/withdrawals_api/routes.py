"""HTTP routes: banks' withdrawal activity, assisted withdrawals and cash handovers, follow-up notes."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from uuid import UUID

from litestar import Controller, Request, get, post
from litestar.datastructures import UploadFile
from litestar.openapi.spec import OpenAPIFormat, OpenAPIType, Schema
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.guards import current_principal, requires
from app.auth.models import Role
from app.auth.service import Principal
from app.http.openapi import XLSX, documented, upload_body
from app.http.problems import Problem, bilingual
from app.withdrawals_api import service
from app.withdrawals_api.schemas import (
    AssistedWithdrawalIn,
    AssistedWithdrawalOut,
    FollowUpNoteIn,
    FollowUpNoteOut,
    IntakeOut,
    WithdrawalCancelIn,
    WithdrawalOut,
)
from reconciliation.withdrawal_files import BANK_CHANNELS

COMMUNE_WRITERS = (Role.commune_staff, Role.officer)
NOTE_READERS = (Role.commune_staff, Role.officer, Role.auditor)


def _principal(request: Request[Any, Any, Any]) -> Principal:
    principal = current_principal(request)
    assert principal is not None  # guards ran
    return principal


async def _body(request: Request[Any, Any, Any]) -> tuple[bytes | None, Any | None, str, bytes]:
    """(file bytes, JSON value, file name, the upload as received) of a JSON, multipart (field ``file``) or raw
    CSV/xlsx body."""
    content_type = (request.headers.get("content-type") or "").lower()
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise Problem(400, bilingual("Thiếu tệp (trường 'file')", "file missing (form field 'file')"))
        content = await upload.read()
        return content, None, upload.filename or "upload", content
    body = await request.body()
    if content_type.startswith("application/json") or body.lstrip()[:1] in (b"[", b"{"):
        try:  # a large list takes a while to decode: off the event loop, other requests go on meanwhile
            return None, await asyncio.to_thread(json.loads, body), "json", body
        except ValueError:
            raise Problem(400, bilingual("JSON không hợp lệ", "invalid JSON")) from None
    return body, None, "upload", body


WITHDRAWAL_ITEM = Schema(
    type=OpenAPIType.OBJECT, required=["account_number", "occurred_at", "amount", "channel", "bank_ref"],
    properties={
        "account_number": Schema(type=OpenAPIType.STRING, description="the beneficiary's account at the bank"),
        "occurred_at": Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.DATE_TIME,
                              description="when the money was taken (ISO 8601; Vietnam time without an offset)"),
        "amount": Schema(type=OpenAPIType.INTEGER, minimum=1, description="đồng, a JSON integer"),
        "channel": Schema(type=OpenAPIType.STRING, enum=list(BANK_CHANNELS)),
        "bank_ref": Schema(type=OpenAPIType.STRING, description="the bank's reference: a repeat is a duplicate"),
        "bank_bin": Schema(type=OpenAPIType.STRING, pattern=r"^\d{6}$",
                           description="optional; if given, the calling bank's own BIN"),
    })
WITHDRAWALS_BODY = upload_body(
    "The withdrawals: a JSON list of {account_number, occurred_at, amount, channel, bank_ref} (or {items: [...]}), "
    "or a CSV/xlsx file with those columns, as multipart/form-data field `file` or as the body.",
    file="a CSV (UTF-8) or xlsx file of withdrawals", raw=("text/csv", XLSX),
    json_schema=Schema(one_of=[
        Schema(type=OpenAPIType.ARRAY, items=WITHDRAWAL_ITEM),
        Schema(type=OpenAPIType.OBJECT, required=["items"],
               properties={"items": Schema(type=OpenAPIType.ARRAY, items=WITHDRAWAL_ITEM)}),
    ]))


@post("/api/bank/withdrawals", guards=[requires(Role.bank)], tags=["bank"], status_code=200,
      operation_class=documented(request_body=WITHDRAWALS_BODY), opt={"problems": (413, 422)})
async def bank_withdrawals(request: Request[Any, Any, Any], db_session: AsyncSession) -> IntakeOut:
    """Withdrawal activity of the calling bank's beneficiary accounts: a JSON list of {account_number,
    occurred_at, amount, channel, bank_ref}, or a CSV/xlsx file (body or multipart ``file``).
    Idempotent by bank reference; unknown accounts are stored and reported; a bad file: 422, nothing stored."""
    principal = _principal(request)
    assert principal.bank_bin is not None
    content, items, name, received = await _body(request)
    # Checking every row of a large file is pure Python (a second or more for 100,000 rows): in a worker
    # thread, so /healthz and every other user are answered meanwhile.
    rows, fmt = await asyncio.to_thread(service.read_withdrawals, content, items)
    return await service.take_bank_withdrawals(db_session, bank_bin=principal.bank_bin, rows=rows, fmt=fmt,
                                               recorded_by=principal.name, role=principal.role.value,
                                               source_name=name, content=received)


class BeneficiaryWithdrawalController(Controller):
    path = "/api/beneficiaries/{beneficiary_id:uuid}"
    tags = ["withdrawals"]

    @post("/assisted-withdrawals", guards=[requires(*COMMUNE_WRITERS)], status_code=201)
    async def assisted_withdrawal(self, request: Request[Any, Any, Any], db_session: AsyncSession,
                                  beneficiary_id: UUID, data: AssistedWithdrawalIn) -> AssistedWithdrawalOut:
        """A withdrawal made with commune staff's help, or (cash channel) the cash handed to the person."""
        return await service.add_assisted_withdrawal(db_session, beneficiary_id, data, _principal(request))

    @get("/withdrawals", guards=[requires(*NOTE_READERS)])
    async def withdrawals(self, request: Request[Any, Any, Any], db_session: AsyncSession,
                          beneficiary_id: UUID) -> list[WithdrawalOut]:
        """The person's withdrawals (bank activity and commune records), newest first, cancelled ones marked."""
        return await service.list_withdrawals(db_session, beneficiary_id, _principal(request))

    @post("/assisted-withdrawals/{withdrawal_id:int}/cancel", guards=[requires(*COMMUNE_WRITERS)],
          status_code=200)
    async def cancel_withdrawal(self, request: Request[Any, Any, Any], db_session: AsyncSession,
                                beneficiary_id: UUID, withdrawal_id: int, data: WithdrawalCancelIn) -> WithdrawalOut:
        """Cancel an assisted withdrawal or cash handover recorded by mistake {reason}; 409 for a bank's
        withdrawal or one already cancelled."""
        return await service.cancel_assisted_withdrawal(db_session, beneficiary_id, withdrawal_id, data,
                                                        _principal(request))

    @post("/follow-up-notes", guards=[requires(*COMMUNE_WRITERS)], status_code=201)
    async def add_note(self, request: Request[Any, Any, Any], db_session: AsyncSession, beneficiary_id: UUID,
                       data: FollowUpNoteIn) -> FollowUpNoteOut:
        """Record a home visit, a call or a note."""
        return await service.add_follow_up_note(db_session, beneficiary_id, data, _principal(request))

    @get("/follow-up-notes", guards=[requires(*NOTE_READERS)])
    async def notes(self, request: Request[Any, Any, Any], db_session: AsyncSession,
                    beneficiary_id: UUID) -> list[FollowUpNoteOut]:
        """The person's visits, calls and notes, newest first."""
        return await service.list_follow_up_notes(db_session, beneficiary_id, _principal(request))


ROUTES = [bank_withdrawals, BeneficiaryWithdrawalController]
