"""Tiny .xlsx files whose sheets claim or reach a far-away cell, written as XML inside the zip."""

from __future__ import annotations

import io
import zipfile

_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006"
HEADERS = ("account_number", "occurred_at", "amount", "channel", "bank_ref")


def _inline(ref: str, value: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{value}</t></is></c>'


def xlsx_with_sheet(sheet_data: str, dimension: str | None = None) -> bytes:
    """A one-sheet workbook with ``sheet_data`` as the <sheetData> content."""
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    parts = {
        "[Content_Types].xml": f'<?xml version="1.0"?><Types xmlns="{_PKG}/content-types"><Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
        'ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/'
        'sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        "</Types>",
        "_rels/.rels": f'<?xml version="1.0"?><Relationships xmlns="{_PKG}/relationships"><Relationship Id="rId1" '
        f'Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'<?xml version="1.0"?><workbook xmlns="{_NS}" xmlns:r="{_REL}"><sheets><sheet name="S" '
        'sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": f'<?xml version="1.0"?><Relationships xmlns="{_PKG}/relationships">'
        f'<Relationship Id="rId1" Type="{_REL}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
        "xl/worksheets/sheet1.xml": f'<?xml version="1.0"?><worksheet xmlns="{_NS}">{dim}<sheetData>{sheet_data}'
        "</sheetData></worksheet>",
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in parts.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def far_cell_xlsx(headers: tuple[str, ...] = HEADERS, far: str = "XFD1048576", dimension: str | None = None) -> bytes:
    """A header row in row 1 and a single cell at ``far`` (by default the last cell Excel allows)."""
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    header = "".join(_inline(f"{letters[i]}1", h) for i, h in enumerate(headers))
    row = int("".join(ch for ch in far if ch.isdigit()))
    return xlsx_with_sheet(f'<row r="1">{header}</row><row r="{row}"><c r="{far}"><v>1</v></c></row>', dimension)
