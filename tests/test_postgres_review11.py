"""Review of readings packed by group (issue 12) on PostgreSQL, which stores rows only:
a database of readings version 4 upgraded by its owner still serves the roles granted
before the upgrade."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from postgres_server import login_role

from ecocomp import postgres
from ecocomp.periods import Period
from ecocomp.store import ReadingStore
from ecocomp.store_postgres import TABLES

pytestmark = pytest.mark.slow


def test_a_role_granted_before_the_version_5_upgrade_still_reads_and_imports(
        pg_url: str, tmp_path: Path) -> None:
    ReadingStore.open(pg_url).close()
    conn = postgres.connect(pg_url)
    try:  # the database as readings version 4 left it
        conn.execute("DROP VIEW readings_all")
        conn.execute("DELETE FROM readings_schema_version WHERE version = 5")
    finally:
        conn.close()

    def grant_v4(conn: postgres.Connection, role: str) -> None:
        """What grant_readings gave a role before version 5 (no readings_all)."""
        conn.execute("CREATE TABLE IF NOT EXISTS readings_y2023 PARTITION OF readings "
                     "FOR VALUES FROM ('2023') TO ('2024')")
        conn.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {', '.join(TABLES)} TO {role}")
        conn.execute(f"GRANT SELECT ON readings_schema_version TO {role}")
        conn.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role}")

    with login_role(pg_url, "ecocomp_v4_importer", grant_v4) as writer:
        with ReadingStore.open(pg_url) as owner:  # the owner opens first: the upgrade
            assert owner.schema_version == 5
        path = tmp_path / "2023.csv"
        path.write_text("section,sampled_at,parameter,value,unit,source,flag\n"
                        "zhuting,2023-01-05,nh3n,0.2,mg/L,manual,\n", encoding="utf-8")
        with ReadingStore.open(writer) as store:
            assert store.import_file(path).inserted == 1
            assert [r.value for r in store.readings()] == [Decimal("0.2")]
            assert [a.count for a in store.aggregates(Period(2023))] == [1]
            assert store.sections() == ["zhuting"]
