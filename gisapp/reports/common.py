"""Small helpers shared by the report modules: time stamps and errors."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

UTC = dt.timezone.utc
BEIJING = dt.timezone(dt.timedelta(hours=8))


def now() -> dt.datetime:
    return dt.datetime.now(UTC).replace(microsecond=0)


def stamp(when: dt.datetime) -> str:
    """The stored form of a time: UTC, seconds, 'Z' (as the demo data)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_stamp(text) -> dt.datetime | None:
    """A stored or ISO time as an aware UTC datetime (None for empty values)."""
    if text is None or (isinstance(text, float) and np.isnan(text)) or text is pd.NaT or text == "":
        return None
    if isinstance(text, dt.datetime):
        when = text
    else:
        try:
            when = dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
        except ValueError:
            return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)


def local_text(text, with_time: bool = True) -> str:
    """A stored time as Beijing local time for people: '2023-12-20 16:00'."""
    when = parse_stamp(text)
    if when is None:
        return "—"
    return when.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d")


def fail(cls, zh: str, en: str, **detail):
    raise cls({"zh": zh, "en": en}, **detail)


def clean(value):
    """None for NaN/NaT/None, the value otherwise (rows read from the store)."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def metres_to_degrees(metres: float, lat: float) -> tuple[float, float]:
    """(dlon, dlat) spanning at least `metres` around latitude `lat`."""
    dlat = metres / 110_574.0
    return dlat / max(np.cos(np.radians(lat)), 0.01), dlat


IN_CHUNK = 5000  # values per IN (...) query: SQLite allows at most 32,766 bound parameters


def existing_values(store, table: str, column: str, values) -> set:
    """The values already stored in a column, asked in chunks (imports may bring a million)."""
    values = list(dict.fromkeys(str(v) for v in values))
    found: set = set()
    for start in range(0, len(values), IN_CHUNK):
        df = store.read(table, where={column: values[start:start + IN_CHUNK]}, columns=[column], geometry=False)
        found.update(df[column].astype(str))
    return found
