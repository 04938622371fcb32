"""HTTP routes of the registry: beneficiaries, bank accounts, enrolments, events, import, programmes, banks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Request, Response, get, patch, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.guards import current_principal, requires
from app.auth.models import Role
from app.auth.service import Principal
from app.database import session_scope
from app.http.downloads import attachment
from app.http.paging import Page
from app.registry import service
from app.registry.importer import error_copy, import_beneficiaries, record_rejected_import, rejection_problem
from app.registry.schemas import (
    BackPayLimitOut,
    BankAccountIn,
    BankAccountOut,
    BankAccountRequestOut,
    BankOut,
    BeneficiaryIn,
    BeneficiaryOut,
    BeneficiaryPage,
    BeneficiaryPatch,
    DecisionIn,
    DisbursementAccountIn,
    DisbursementAccountOut,
    EnrolmentEndIn,
    EnrolmentIn,
    EnrolmentOut,
    EventIn,
    EventOut,
    ImportResultOut,
    ProgrammeOut,
    RateIn,
    RateOut,
)

READERS = (Role.officer, Role.commune_staff, Role.auditor)
REFERENCE_READERS = (Role.admin, Role.officer, Role.approver, Role.commune_staff, Role.auditor)


def _principal(request: Request[Any, Any, Any]) -> Principal:
    principal = current_principal(request)
    assert principal is not None  # guards ran
    return principal


@dataclass
class ImportForm:
    file: UploadFile


class BeneficiaryController(Controller):
    path = "/api/beneficiaries"
    tags = ["registry"]

    @get("/", guards=[requires(*READERS)])
    async def search(
        self, request: Request[Any, Any, Any], db_session: AsyncSession, q: str | None = None,
        commune: str | None = None, status: str | None = None, page: Page = 1,
        page_size: Annotated[int, Parameter(le=200, ge=1)] = 50,
    ) -> BeneficiaryPage:
        """Search by name (accents optional), citizen ID or phone, within the caller's scope."""
        return await service.search_beneficiaries(db_session, _principal(request), q=q, commune=commune,
                                                  status=status, page=page, page_size=page_size)

    @post("/", guards=[requires(Role.officer)])
    async def create(self, request: Request[Any, Any, Any], db_session: AsyncSession,
                     data: BeneficiaryIn) -> BeneficiaryOut:
        """Register a person with an optional bank account and enrolments."""
        principal = _principal(request)
        beneficiary_id = await service.create_beneficiary(db_session, data, principal)
        return await service.beneficiary_detail(db_session, beneficiary_id, principal)

    @get("/{beneficiary_id:uuid}", guards=[requires(*READERS)])
    async def detail(self, request: Request[Any, Any, Any], db_session: AsyncSession,
                     beneficiary_id: UUID) -> BeneficiaryOut:
        """A person with bank account, enrolments and payouts (404 outside the caller's scope)."""
        return await service.beneficiary_detail(db_session, beneficiary_id, _principal(request))

    @patch("/{beneficiary_id:uuid}", guards=[requires(Role.officer)])
    async def update(self, request: Request[Any, Any, Any], db_session: AsyncSession, beneficiary_id: UUID,
                     data: BeneficiaryPatch) -> BeneficiaryOut:
        """Correct name, address, phone, channel or identity; status and commune change through events. A corrected
        date of birth is saved even when an enrolment's category no longer fits the age: ``warnings`` lists each
        active enrolment that does not (Vietnamese and English), for as long as it lasts."""
        principal = _principal(request)
        await service.update_beneficiary(db_session, beneficiary_id, data, principal)
        return await service.beneficiary_detail(db_session, beneficiary_id, principal)

    @post("/{beneficiary_id:uuid}/events", guards=[requires(Role.officer)])
    async def add_event(self, request: Request[Any, Any, Any], db_session: AsyncSession, beneficiary_id: UUID,
                        data: EventIn) -> EventOut:
        """Record suspended, resumed, deceased (with the date) or moved (with the new commune)."""
        principal = _principal(request)
        event = await service.record_event(db_session, beneficiary_id, data, principal)
        return next(e for e in await service.list_events(db_session, beneficiary_id, principal) if e.id == event.id)

    @get("/{beneficiary_id:uuid}/events", guards=[requires(*READERS)])
    async def events(self, request: Request[Any, Any, Any], db_session: AsyncSession,
                     beneficiary_id: UUID) -> list[EventOut]:
        """The person's status history, oldest first."""
        return await service.list_events(db_session, beneficiary_id, _principal(request))

    @post("/{beneficiary_id:uuid}/bank-accounts", guards=[requires(Role.officer, Role.commune_staff)])
    async def add_bank_account(self, request: Request[Any, Any, Any], db_session: AsyncSession,
                               beneficiary_id: UUID, data: BankAccountIn) -> Response[Any]:
        """Officer: 201, the account is active at once. Commune staff: 202, a request an officer confirms."""
        principal = _principal(request)
        if principal.role == Role.commune_staff:
            request_out = await service.request_bank_account_change(db_session, beneficiary_id, data, principal)
            return Response(request_out, status_code=202)
        account = await service.add_bank_account(db_session, beneficiary_id, data, principal)
        return Response(account, status_code=201)

    @get("/{beneficiary_id:uuid}/bank-accounts", guards=[requires(*READERS)])
    async def bank_accounts(self, request: Request[Any, Any, Any], db_session: AsyncSession,
                            beneficiary_id: UUID) -> list[BankAccountOut]:
        """Every account the person has had; the active one first."""
        return await service.list_bank_accounts(db_session, beneficiary_id, _principal(request))

    @post("/{beneficiary_id:uuid}/enrolments", guards=[requires(Role.officer)])
    async def add_enrolment(self, request: Request[Any, Any, Any], db_session: AsyncSession, beneficiary_id: UUID,
                            data: EnrolmentIn) -> EnrolmentOut:
        """Enrol the person in a programme category from a start month, by decision."""
        return await service.add_enrolment(db_session, beneficiary_id, data, _principal(request))

    @patch("/{beneficiary_id:uuid}/enrolments/{enrolment_id:int}", guards=[requires(Role.officer)])
    async def end_enrolment(self, request: Request[Any, Any, Any], db_session: AsyncSession, beneficiary_id: UUID,
                            enrolment_id: int, data: EnrolmentEndIn) -> EnrolmentOut:
        """Set the last paid month of an enrolment (MM/YYYY or YYYY-MM) with the reason it ends (required: 422 on
        ``reason`` without one; kept in the audit entry), or clear it (null) to reopen the enrolment."""
        return await service.set_enrolment_end(db_session, beneficiary_id, enrolment_id, data, _principal(request))

    @post("/import", guards=[requires(Role.officer)], status_code=200)
    async def import_file(
        self, request: Request[Any, Any, Any], db_session: AsyncSession,
        data: Annotated[ImportForm, Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> ImportResultOut:
        """Import an xlsx or csv file; any bad row: 422 listing every one, nothing stored."""
        principal = _principal(request)
        content = await data.file.read()
        filename = data.file.filename or "upload"
        outcome = await import_beneficiaries(db_session, content=content, filename=filename, principal=principal)
        if not outcome.applied:
            # The request's transaction rolls back on 422: keep the upload and its errors in a separate one.
            async with session_scope(request.app.state.engine) as own_session:
                await record_rejected_import(own_session, content=content, filename=filename, principal=principal,
                                             outcome=outcome)
            raise rejection_problem(outcome)
        assert outcome.upload_id is not None
        return ImportResultOut(upload_id=outcome.upload_id, rows=outcome.rows, created=outcome.created,
                               updated=outcome.updated, unchanged=outcome.unchanged,
                               name_mismatches=outcome.name_mismatches,
                               back_pay=[BackPayLimitOut(**limit) for limit in outcome.back_pay])

    @get("/imports/{upload_id:uuid}/errors", guards=[requires(Role.officer)])
    async def import_errors(self, request: Request[Any, Any, Any], db_session: AsyncSession,
                            upload_id: UUID) -> Response[bytes]:
        """The uploaded file with an error column added (xlsx, or csv for a csv upload)."""
        filename, media_type, content = await error_copy(db_session, upload_id, _principal(request))
        return Response(content, media_type=media_type, headers={"Content-Disposition": attachment(filename)})


class BankAccountRequestController(Controller):
    path = "/api/bank-account-requests"
    tags = ["registry"]

    @get("/", guards=[requires(*READERS)])
    async def list_requests(self, request: Request[Any, Any, Any], db_session: AsyncSession,
                            status: str | None = "pending") -> list[BankAccountRequestOut]:
        """Account change requests in the caller's scope (default: pending)."""
        return await service.list_bank_account_requests(db_session, _principal(request), status or None)

    @post("/{request_id:int}/confirm", guards=[requires(Role.officer)], status_code=200)
    async def confirm(self, request: Request[Any, Any, Any], db_session: AsyncSession, request_id: int,
                      data: DecisionIn | None = None) -> BankAccountRequestOut:
        """Confirm a request: its account becomes the active one."""
        return await service.decide_bank_account_request(db_session, request_id, confirm=True,
                                                         note=data.note if data else "", principal=_principal(request))

    @post("/{request_id:int}/reject", guards=[requires(Role.officer)], status_code=200)
    async def reject(self, request: Request[Any, Any, Any], db_session: AsyncSession, request_id: int,
                     data: DecisionIn | None = None) -> BankAccountRequestOut:
        """Reject a request; the note says why (required: 422 without it)."""
        return await service.decide_bank_account_request(db_session, request_id, confirm=False,
                                                         note=data.note if data else "", principal=_principal(request))


class ProgrammeController(Controller):
    path = "/api/programmes"
    tags = ["registry"]

    @get("/", guards=[requires(*REFERENCE_READERS)])
    async def list_programmes(self, db_session: AsyncSession) -> list[ProgrammeOut]:
        """Programmes with categories (coefficients) and effective-dated base amounts."""
        return await service.list_programmes(db_session)

    @post("/{code:str}/rates", guards=[requires(Role.officer)])
    async def add_rate(self, request: Request[Any, Any, Any], db_session: AsyncSession, code: str,
                       data: RateIn) -> RateOut:
        """Add a base amount from the first day of a month, national or for one province."""
        return await service.add_rate(db_session, code, data, _principal(request))


class BankController(Controller):
    path = "/api/banks"
    tags = ["registry"]

    @get("/", guards=[requires(*REFERENCE_READERS)])
    async def list_banks(self, db_session: AsyncSession) -> list[BankOut]:
        """Banks by NAPAS BIN with their disbursement account."""
        return await service.list_banks(db_session)

    @post("/{bank_bin:str}/disbursement-accounts", guards=[requires(Role.officer)])
    async def register_disbursement_account(self, request: Request[Any, Any, Any], db_session: AsyncSession,
                                            bank_bin: str, data: DisbursementAccountIn) -> Response[Any]:
        """Register the account payouts leave from (201; 200 when it already is the active one)."""
        account, created = await service.register_disbursement_account(db_session, bank_bin, data.account_number,
                                                                       _principal(request))
        return Response(account, status_code=201 if created else 200)

    @get("/{bank_bin:str}/disbursement-accounts", guards=[requires(Role.officer, Role.auditor)])
    async def disbursement_accounts(self, db_session: AsyncSession, bank_bin: str) -> list[DisbursementAccountOut]:
        """The bank's disbursement accounts, the active one first."""
        return await service.list_disbursement_accounts(db_session, bank_bin)


ROUTES = [BeneficiaryController, BankAccountRequestController, ProgrammeController, BankController]
