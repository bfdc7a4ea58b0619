"""The files connector: CSV, Parquet and JSON read by DuckDB, filters and limits at the
file, paths kept inside the root, and whole SELECTs checked before they run."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from isthmus.connectors.base import TALLY, Filter, ReadTally, StreamQuery
from isthmus.connectors.registry import connector_type
from isthmus.errors import IsthmusError
from isthmus.testing import ConnectorCase


def case(root: Path, tables: dict[str, dict[str, object]]) -> ConnectorCase:
    return ConnectorCase(connector_type("files"), {"root": str(root), "tables": tables})


@pytest.fixture
def root(tmp_path: Path) -> Path:
    rows = [{"id": n, "sensor": f"s{n % 3}", "value": n * 0.5} for n in range(1, 1001)]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "readings.parquet", row_group_size=100)
    (tmp_path / "sites.json").write_text('[{"id": 1, "city": "Delft"}, {"id": 2, "city": "Gent"}]')
    return tmp_path


async def test_filters_sorts_and_limits_run_at_the_file(root: Path) -> None:
    tables = {"readings": {"path": "readings.parquet"}, "sites": {"path": "sites.json"}}
    async with case(root, tables).open() as connector:
        schema = connector.streams()["readings"].json_schema["properties"]
        assert schema == {
            "id": {"type": "integer"}, "sensor": {"type": "string"}, "value": {"type": "number"}
        }  # fmt: skip
        counted = ReadTally()
        token = TALLY.set(counted)
        query = StreamQuery(
            filters=(Filter("sensor", "eq", "s1"), Filter("id", "gt", 900)),
            fields=("id", "value"),
            sort=(("id", True),),
            limit=3,
        )
        rows = [r async for r in connector.read("readings", query)]
        TALLY.reset(token)
        assert rows == [{"id": 1000, "value": 500.0}, {"id": 997, "value": 498.5},
                        {"id": 994, "value": 497.0}]  # fmt: skip
        assert counted.records == 3  # what left the file, not what it holds
        cities = [r async for r in connector.read("sites", StreamQuery())]
        assert [c["city"] for c in cities] == ["Delft", "Gent"]

        batches = [
            b
            async for b in connector.select(
                "SELECT sensor, count(*) AS n FROM readings WHERE value > :p0 GROUP BY sensor "
                "ORDER BY sensor",
                {"p0": 400},
            )
        ]
        assert pa.Table.from_batches(batches).to_pylist() == [
            {"sensor": "s0", "n": 67}, {"sensor": "s1", "n": 67}, {"sensor": "s2", "n": 66}
        ]  # fmt: skip


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM other_table",
        "COPY readings TO '/tmp/x.csv'",
        "SELECT getenv('HOME') AS home FROM readings",
    ],
)
async def test_a_select_may_read_only_its_tables(root: Path, sql: str) -> None:
    async with case(root, {"readings": {"path": "readings.parquet"}}).open() as connector:
        with pytest.raises(IsthmusError):
            [b async for b in connector.select(sql, {})]


async def test_a_table_outside_the_root_is_refused(root: Path) -> None:
    with pytest.raises(IsthmusError, match="outside"):
        async with case(root, {"secrets": {"path": "../../etc/passwd", "format": "csv"}}).open():
            pass
