"""POST /query end to end: Views over a REST API, a database and a Parquet file."""

from __future__ import annotations

from tests.virtual.conftest import Virtual


async def test_a_view_over_each_kind_of_source_answers(virtual: Virtual) -> None:
    answer = await virtual.query("SELECT * FROM customer_360 WHERE id = 7")
    print(answer)
