"""Registry tables: reference data (provinces, communes, banks)."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.orm import Base


class Province(Base):
    __tablename__ = "province"

    code: Mapped[str] = mapped_column(String(2), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    division_type: Mapped[str] = mapped_column(Text)


class Commune(Base):
    __tablename__ = "commune"

    code: Mapped[str] = mapped_column(String(5), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    division_type: Mapped[str] = mapped_column(Text)
    province_code: Mapped[str] = mapped_column(ForeignKey("province.code"))


class Bank(Base):
    __tablename__ = "bank"

    bin: Mapped[str] = mapped_column(String(6), primary_key=True)
    short_name: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)
