"""Bulk writes for the PostGIS store: COPY (binary when the values allow) and, for loads that at
least double a table, index and key rebuilds after the COPY instead of row-by-row maintenance."""
from __future__ import annotations

from typing import Iterable

from .pg_format import quote as q

BULK_ROWS = 50_000  # inserts at least this large that double a table rebuild its indexes afterwards


def geometry_dumper(oid: int):
    """A psycopg binary dumper sending EWKB bytes as ``geometry`` (the server's geometry_recv)."""
    from psycopg.adapt import Dumper
    from psycopg.pq import Format

    class GeometryDumper(Dumper):
        format = Format.BINARY

        def dump(self, obj):
            return obj

    GeometryDumper.oid = oid
    return GeometryDumper


class _EWKB(bytes):
    """Marker type the geometry dumper is registered for (lookups in a binary COPY go by oid)."""


def copy_rows(conn, table: str, names: list[str], types: list, records: Iterable[tuple], binary: bool) -> None:
    """COPY records into ``table``. ``types``: COPY type names (the geometry by oid) for binary."""
    cursor = conn.cursor()
    if binary:
        geometry = [t for t in types if isinstance(t, int)]
        if geometry:
            cursor.adapters.register_dumper(_EWKB, geometry_dumper(geometry[0]))
    fmt = " (FORMAT BINARY)" if binary else ""
    with cursor.copy(f"COPY {q(table)} ({', '.join(map(q, names))}) FROM STDIN{fmt}") as copy:
        if binary:
            copy.set_types(types)
        for record in records:
            copy.write_row(record)


def owns(conn, table: str) -> bool:
    """Whether the session's role owns ``table`` (or is a member of its owner): only an owner may
    drop its indexes or pause its triggers. A role with data rights alone takes the slower paths."""
    row = conn.execute("SELECT pg_has_role(current_user, relowner, 'USAGE') FROM pg_class WHERE oid = to_regclass(%s)",
                       (q(table),)).fetchone()
    return bool(row and row[0])


def drop_for_bulk(conn, table: str, n: int) -> list[str]:
    """For an insert of BULK_ROWS or more rows that at least doubles ``table``, when this role
    owns it: drop its indexes, the GiST one included, and its primary-key and unique constraints;
    return the statements that rebuild them after the COPY (sorted builds, several times faster
    than row-by-row maintenance; a duplicate then fails the rebuild, so the transaction, as it
    would have). The table is locked until commit; a rollback restores everything."""
    if n < BULK_ROWS or not owns(conn, table):
        return []
    held = conn.execute(f"SELECT count(*) FROM (SELECT 1 FROM {q(table)} LIMIT %s) s", (n + 1,)).fetchone()[0]
    if held > n:
        return []
    keys = conn.execute("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                        "WHERE conrelid = %s::regclass AND contype IN ('p', 'u')", (q(table),)).fetchall()
    indexes = conn.execute(
        "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index i WHERE indrelid = %s::regclass "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)", (q(table),)).fetchall()
    for name, _ in keys:
        conn.execute(f"ALTER TABLE {q(table)} DROP CONSTRAINT {q(name)}")
    for name, _ in indexes:
        conn.execute(f"DROP INDEX {name}")
    return ([f"ALTER TABLE {q(table)} ADD CONSTRAINT {q(name)} {definition}" for name, definition in keys]
            + [definition for _, definition in indexes])
