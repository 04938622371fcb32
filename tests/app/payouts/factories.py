"""Build payment orders and batch headers for the order file tests: Vietnamese names, leading zeros,
arrears over several months and a few hostile cells."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from uuid import UUID

from app.payouts.order_files import CashPayout, PaymentBatchHeader, PaymentOrder
from app.payouts.references import make_reference

VIETNAM = timezone(timedelta(hours=7))


def batch_header() -> PaymentBatchHeader:
    """The header of a Vietcombank file from a provincial labour department."""
    return PaymentBatchHeader(
        message_id="TGXH-2601-970436-001",
        created_at=datetime(2026, 1, 5, 8, 30, tzinfo=VIETNAM),
        requested_execution_date=date(2026, 1, 10),
        debtor_name="Sở Lao động - Thương binh và Xã hội tỉnh Hà Tĩnh",
        debtor_account_number="0011004455667",
        debtor_bank_bin="970436",
        debtor_bank_name="Vietcombank",
    )


def payment_order(serial: int, **changes: object) -> PaymentOrder:
    """A plausible order; ``changes`` override any field."""
    fields: dict[str, object] = {
        "reference": make_reference("2026-01", serial),
        "payout_id": UUID(int=serial + 1),
        "beneficiary_name": "Nguyễn Thị Đào",
        "national_id": f"00119{serial:07d}",
        "commune_code": "00070",
        "commune_name": "Phường Hoàn Kiếm",
        "bank_bin": "970436",
        "bank_short_name": "Vietcombank",
        "account_number": f"0{serial:012d}",
        "holder_name": "NGUYEN THI DAO",
        "amount": 750_000,
        "months": ("2026-01",),
        "programme_code": "TGXH",
        "programme_name": "Trợ cấp xã hội hằng tháng (Nghị định 20/2021/NĐ-CP)",
        "period": "2026-01",
    }
    fields.update(changes)
    return PaymentOrder(**fields)  # type: ignore[arg-type]


def sample_orders() -> list[PaymentOrder]:
    """Four orders: plain, arrears over three months at another bank, hostile cells, two months apart."""
    return [
        payment_order(1),
        payment_order(2, beneficiary_name="Trần Văn Ẩn", holder_name="", amount=1_125_000,
                      months=["2025-11", "2025-12", "2026-01"], bank_bin="970418", bank_short_name="BIDV"),
        payment_order(3, beneficiary_name="=HYPERLINK(\"http://evil.example\",\"Bấm\")", holder_name="@SUM(1+1)",
                      commune_name="-2+3", amount=540_000),
        payment_order(4, beneficiary_name="Lê Thị Ơn", holder_name="+84 LE THI ON", amount=2_000_000,
                      months=["2025-10", "2026-01"], commune_code="00073", commune_name="Phường Cửa Nam"),
    ]


def cash_payout(serial: int, commune_code: str, commune_name: str, **changes: object) -> CashPayout:
    """A plausible cash payout; ``changes`` override any field."""
    fields: dict[str, object] = {
        "reference": make_reference("2026-01", serial),
        "payout_id": UUID(int=serial + 1),
        "beneficiary_name": f"Phạm Văn Bảy {serial}",
        "national_id": f"04220{serial:07d}",
        "commune_code": commune_code,
        "commune_name": commune_name,
        "amount": 500_000,
        "months": ("2026-01",),
        "programme_code": "TGXH",
        "programme_name": "Trợ cấp xã hội hằng tháng",
        "period": "2026-01",
        "address": "Thôn Đông",
    }
    fields.update(changes)
    return CashPayout(**fields)  # type: ignore[arg-type]
