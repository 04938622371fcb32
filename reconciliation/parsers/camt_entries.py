"""Reading one camt ``Ntry`` (and its ``TxDtls``) fast: the hot loop of a million-entry file.

Elements are recognised by a small integer code per qualified tag (one dict look-up each), and
the whole ``NtryDtls`` is walked once in document order with no per-element helper calls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

NOT_PROVIDED = "NOTPROVIDED"
CodeOf = Callable[[Any], int]
CodesGet = Callable[[Any, int], int]

_CODED_NAMES = ("Amt", "CdtDbtInd", "RvslInd", "Sts", "BookgDt", "ValDt", "AcctSvcrRef", "NtryRef", "NtryDtls",
                "AddtlNtryInf", "TxDtls", "Dt", "DtTm", "Cd", "Prtry", "Refs", "EndToEndId", "TxId", "UETR",
                "AmtDtls", "TxAmt", "RltdPties", "RmtInf", "Ustrd", "Strd", "CdtrRefInf", "Ref", "RtrInf", "Rsn",
                "AddtlTxInf", "Dbtr", "Cdtr", "DbtrAcct", "CdtrAcct", "Nm", "Pty", "Id", "IBAN", "Othr",
                # the rest of TransactionReferences (Refs), so that TxDtls/Amt can be told from later amounts
                "MsgId", "PmtInfId", "InstrId", "MndtId", "ChqNb", "ClrSysRef", "AcctOwnrTxId", "AcctSvcrTxId",
                "MktInfrstrctrTxId", "PrcgId", "Tp")
(AMT, CDT_DBT_IND, RVSL_IND, STS, BOOKG_DT, VAL_DT, ACCT_SVCR_REF, NTRY_REF, NTRY_DTLS, ADDTL_NTRY_INF, TX_DTLS, DT,
 DT_TM, CD, PRTRY, REFS, END_TO_END_ID, TX_ID, UETR, AMT_DTLS, TX_AMT, RLTD_PTIES, RMT_INF, USTRD, STRD,
 CDTR_REF_INF, REF, RTR_INF, RSN, ADDTL_TX_INF, DBTR, CDTR, DBTR_ACCT, CDTR_ACCT, NM, PTY, ID, IBAN,
 OTHR, MSG_ID, PMT_INF_ID, INSTR_ID, MNDT_ID, CHQ_NB, CLR_SYS_REF, ACCT_OWNR_TX_ID, ACCT_SVCR_TX_ID,
 MKT_INFRSTRCTR_TX_ID, PRCG_ID, TP) = range(len(_CODED_NAMES))
_REFS_FAMILY = frozenset({REFS, MSG_ID, ACCT_SVCR_REF, PMT_INF_ID, INSTR_ID, END_TO_END_ID, UETR, TX_ID, MNDT_ID,
                          CHQ_NB, CLR_SYS_REF, ACCT_OWNR_TX_ID, ACCT_SVCR_TX_ID, MKT_INFRSTRCTR_TX_ID, PRCG_ID,
                          PRTRY, TP, REF, CD})
_DETAIL_CODES = frozenset({AMT, END_TO_END_ID, ACCT_SVCR_REF, TX_ID, UETR, CDTR, DBTR, CDTR_ACCT, DBTR_ACCT, USTRD,
                           CDTR_REF_INF, REF, TX_AMT, RTR_INF, RSN, ADDTL_TX_INF})
# What the next element means after one of these (document order: the child comes right after).
(AFTER_CREDITOR, AFTER_DEBTOR, AFTER_CREDITOR_PARTY, AFTER_DEBTOR_PARTY, AFTER_CREDITOR_ACCOUNT,
 AFTER_DEBTOR_ACCOUNT, AFTER_CREDITOR_ID, AFTER_DEBTOR_ID, AFTER_CREDITOR_OTHER, AFTER_DEBTOR_OTHER, AFTER_TX_AMOUNT,
 AFTER_REASON) = range(100, 112)


class CamtTags:
    """Fully qualified tag names for one namespace (lxml reports ``{namespace}Name``), built on first use."""

    def __init__(self, namespace: str) -> None:
        self._prefix = f"{{{namespace}}}" if namespace else ""
        # Qualified tag → small code, so the hot loops make one dict look-up per element.
        self._codes = {self._prefix + name: code for code, name in enumerate(_CODED_NAMES)}
        self.lookup: CodesGet = self._codes.get

    def code(self, tag: Any) -> int:
        """The code of a qualified tag in ``_CODED_NAMES`` (-1 for anything else)."""
        return self._codes.get(tag, -1)

    def __getattr__(self, local: str) -> str:
        if local.startswith("_"):
            raise AttributeError(local)
        qualified = self._prefix + local
        setattr(self, local, qualified)  # later look-ups hit the instance dict directly
        return qualified


def text_of(element: Any) -> str | None:
    """An element's text without surrounding blanks (``None`` when absent or empty)."""
    if element is None:
        return None
    value = element.text
    if value is None:
        return None
    value = value.strip()
    return value or None


@dataclass(slots=True)
class TransactionDetails:
    """What one ``TxDtls`` says (all optional)."""

    amount_text: str | None = None
    currency: str | None = None
    end_to_end: str | None = None
    bank_reference: str | None = None
    other_reference: str | None = None
    debtor_name: str | None = None
    debtor_account: str | None = None
    creditor_name: str | None = None
    creditor_account: str | None = None
    description: str | None = None
    return_reason: str | None = None
    source_line: int | None = None
    additional: str | None = None


def finish_description(detail: TransactionDetails, unstructured: list[str]) -> None:
    """Remittance text: the Ustrd lines, else the structured reference, else AddtlTxInf."""
    if unstructured:
        text = " ".join(unstructured)
        unstructured.clear()
        detail.description = None if text == NOT_PROVIDED else text
    if detail.description is None:
        detail.description = detail.additional


def read_entry(entry: Any, codes_get: CodesGet) -> tuple[Any, ...]:
    """Every field of an ``Ntry``: its own children, then one pass over its ``NtryDtls``.

    A million entries make this the hot loop, so there is no per-element helper call.
    """
    amount_text = currency = indicator = status = booking = booking_time = value_date = None
    account_servicer_ref = entry_ref = additional = None
    reversal = False
    details: list[TransactionDetails] = []
    for child in entry:
        code = codes_get(child.tag, -1)
        if code == AMT:
            amount_text, currency = (child.text or "").strip() or None, child.get("Ccy")
        elif code == CDT_DBT_IND:
            indicator = (child.text or "").strip() or None
        elif code == STS:
            status = (child.text or "").strip() or None
            if status is None:
                for part in child:
                    if codes_get(part.tag, -1) in (CD, PRTRY):
                        status = (part.text or "").strip() or None
                        break
        elif code == BOOKG_DT or code == VAL_DT:
            for part in child:
                part_code = codes_get(part.tag, -1)
                text = (part.text or "").strip() or None
                if code == VAL_DT:
                    value_date = value_date or text
                elif part_code == DT:
                    booking = text
                elif part_code == DT_TM:
                    booking_time = text
        elif code == ACCT_SVCR_REF:
            account_servicer_ref = (child.text or "").strip() or None
        elif code == NTRY_DTLS:
            read_details(child, details, codes_get)
        elif code == RVSL_IND:
            reversal = (child.text or "").strip().lower() in ("true", "1")
        elif code == NTRY_REF:
            entry_ref = (child.text or "").strip() or None
        elif code == ADDTL_NTRY_INF:
            additional = (child.text or "").strip() or None
    return (amount_text, currency, indicator, status, booking, booking_time, value_date, account_servicer_ref,
            entry_ref, additional, reversal, details)

def read_details(entry_details: Any, details: list[TransactionDetails], codes_get: CodesGet) -> None:
    """The ``TxDtls`` of an ``NtryDtls``, in one pass over its elements in document order.

    The context of an ambiguous element (``Nm``, ``Id``, ``Amt``, ``Cd``) is the element right
    before it, which the schema fixes: ``Cdtr`` → (``Pty`` →) ``Nm``, ``CdtrAcct`` → ``Id`` →
    ``IBAN`` | ``Othr`` → ``Id``, ``TxAmt`` → ``Amt``, ``Rsn`` → ``Cd``; ``TxDtls/Amt`` is the
    first element after the ``Refs`` block.
    """
    detail: TransactionDetails | None = None
    unstructured: list[str] = []
    detail_amount_open = False
    structured_reference_open = False
    after = -1
    for element in entry_details.iterdescendants():
        code = codes_get(element.tag, -1)
        if code == TX_DTLS:
            if detail is not None:
                finish_description(detail, unstructured)
            detail = TransactionDetails(source_line=element.sourceline)
            details.append(detail)
            detail_amount_open, structured_reference_open, after = True, False, -1
            continue
        if detail is None:  # a Btch block before the first TxDtls
            continue
        if after >= 0:
            context, after = after, -1
            if context == AFTER_CREDITOR or context == AFTER_DEBTOR:
                if code == NM:
                    name = (element.text or "").strip() or None
                    if context == AFTER_CREDITOR:
                        detail.creditor_name = name
                    else:
                        detail.debtor_name = name
                    continue
                if code == PTY:
                    after = AFTER_CREDITOR_PARTY if context == AFTER_CREDITOR else AFTER_DEBTOR_PARTY
                    continue
            elif (context == AFTER_CREDITOR_PARTY or context == AFTER_DEBTOR_PARTY) and code == NM:
                name = (element.text or "").strip() or None
                if context == AFTER_CREDITOR_PARTY:
                    detail.creditor_name = name
                else:
                    detail.debtor_name = name
                continue
            elif (context == AFTER_CREDITOR_ACCOUNT or context == AFTER_DEBTOR_ACCOUNT) and code == ID:
                after = AFTER_CREDITOR_ID if context == AFTER_CREDITOR_ACCOUNT else AFTER_DEBTOR_ID
                continue
            elif context == AFTER_CREDITOR_ID or context == AFTER_DEBTOR_ID:
                if code == IBAN:
                    account = (element.text or "").strip() or None
                    if context == AFTER_CREDITOR_ID:
                        detail.creditor_account = account
                    else:
                        detail.debtor_account = account
                    continue
                if code == OTHR:
                    after = AFTER_CREDITOR_OTHER if context == AFTER_CREDITOR_ID else AFTER_DEBTOR_OTHER
                    continue
            elif (context == AFTER_CREDITOR_OTHER or context == AFTER_DEBTOR_OTHER) and code == ID:
                account = (element.text or "").strip() or None
                if context == AFTER_CREDITOR_OTHER:
                    detail.creditor_account = account
                else:
                    detail.debtor_account = account
                continue
            elif context == AFTER_TX_AMOUNT and code == AMT:
                if detail.amount_text is None:
                    detail.amount_text, detail.currency = (element.text or "").strip() or None, element.get("Ccy")
                continue
            elif context == AFTER_REASON and (code == CD or code == PRTRY):
                detail.return_reason = (element.text or "").strip() or detail.return_reason
                continue
        if code not in _DETAIL_CODES:
            if detail_amount_open and code not in _REFS_FAMILY:
                detail_amount_open = False
            continue
        if code == AMT:
            if detail_amount_open and detail.amount_text is None:
                detail.amount_text, detail.currency = (element.text or "").strip() or None, element.get("Ccy")
            detail_amount_open = False
            continue
        if code == END_TO_END_ID:
            end_to_end = (element.text or "").strip() or None
            detail.end_to_end = None if end_to_end == NOT_PROVIDED else end_to_end
            continue
        if code == ACCT_SVCR_REF:
            detail.bank_reference = (element.text or "").strip() or None
            continue
        if code == TX_ID or code == UETR:
            if detail.other_reference is None:
                detail.other_reference = (element.text or "").strip() or None
            continue
        detail_amount_open = False
        if code == CDTR:
            after = AFTER_CREDITOR
        elif code == DBTR:
            after = AFTER_DEBTOR
        elif code == CDTR_ACCT:
            after = AFTER_CREDITOR_ACCOUNT
        elif code == DBTR_ACCT:
            after = AFTER_DEBTOR_ACCOUNT
        elif code == USTRD:
            text = (element.text or "").strip()
            if text:
                unstructured.append(text)
        elif code == CDTR_REF_INF:
            structured_reference_open = True
        elif code == REF and structured_reference_open:
            if detail.description is None:
                detail.description = (element.text or "").strip() or None
            structured_reference_open = False
        elif code == TX_AMT:
            after = AFTER_TX_AMOUNT
        elif code == RTR_INF:
            detail.return_reason = detail.return_reason or "UNSPECIFIED"
        elif code == RSN:
            after = AFTER_REASON
        elif code == ADDTL_TX_INF:
            detail.additional = (element.text or "").strip() or None
    if detail is not None:
        finish_description(detail, unstructured)


def account_id(identification: Any, code_of: CodeOf) -> str | None:
    """``Id/IBAN`` or ``Id/Othr/Id`` of an account (the statement's own, read once)."""
    if identification is None:
        return None
    for child in identification:
        code = code_of(child.tag)
        if code == IBAN:
            return text_of(child)
        if code == OTHR:
            for other in child:
                if code_of(other.tag) == ID:
                    return text_of(other)
    return None


def merge_details(details: list[TransactionDetails]) -> TransactionDetails:
    """A batch without per-transaction amounts stays one line; keep what its TxDtls agree on."""
    if len(details) == 1:
        return details[0]
    merged = TransactionDetails()
    for name in ("end_to_end", "bank_reference", "other_reference", "debtor_name", "debtor_account",
                 "creditor_name", "creditor_account", "return_reason"):
        values = {getattr(d, name) for d in details} - {None}
        if len(values) == 1:
            setattr(merged, name, values.pop())
    descriptions = [d.description for d in details if d.description]
    merged.description = " | ".join(descriptions) if descriptions else None
    return merged
