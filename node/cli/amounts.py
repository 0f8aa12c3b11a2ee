"""Amounts in minor units shown in an instrument's major units, for the CLI."""

from __future__ import annotations


def format_amount(minor: int, decimals: int) -> str:
    """1000010050 with 2 decimals -> '10,000,100.50' (exact: integer arithmetic only)."""
    sign = "-" if minor < 0 else ""
    whole, fraction = divmod(abs(minor), 10**decimals)
    text = f"{whole:,}"
    return sign + (f"{text}.{fraction:0{decimals}d}" if decimals else text)


__all__ = ["format_amount"]
