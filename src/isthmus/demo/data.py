"""The demo's other Systems, written into the hub's home when the demo starts: the
billing database (SQLite, invoices of the CRM's customers) and the plant's sensor
readings (a Parquet file, one machine at each customer's site). Values are fixed; the
readings' times are the last two days, so "recent" means something."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

CUSTOMER_IDS = range(1, 7)
STATUSES = ("paid", "paid", "open", "overdue")


def write_billing(path: Path) -> None:
    """A fresh SQLite database of invoices (replaced on every start)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    with sqlite3.connect(path) as database:
        database.execute(
            "CREATE TABLE invoices (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, "
            "issued DATE NOT NULL, amount NUMERIC(10, 2) NOT NULL, status TEXT NOT NULL)"
        )
        database.execute("CREATE INDEX invoices_customer ON invoices (customer_id)")
        rows = [
            (
                n,
                CUSTOMER_IDS[n % len(CUSTOMER_IDS)],
                (date(2026, 1, 1) + timedelta(days=7 * n)).isoformat(),
                round(120 + (n * 37) % 900 + 0.5, 2),
                STATUSES[n % len(STATUSES)],
            )
            for n in range(1, 49)
        ]
        database.executemany("INSERT INTO invoices VALUES (?, ?, ?, ?, ?)", rows)


def write_readings(folder: Path) -> None:
    """Hourly temperature and vibration of the machine at each customer's site."""
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0, tzinfo=None)
    rows = [
        {
            "customer_id": customer,
            "machine": f"press-{customer:02d}",
            "at": now - timedelta(hours=hour),
            "temperature": round(60 + customer * 2.5 + (hour % 5) * 0.8, 1),
            "vibration": round(0.2 + ((customer * hour) % 7) * 0.05, 2),
        }
        for customer in CUSTOMER_IDS
        for hour in range(48)
    ]
    pq.write_table(pa.Table.from_pylist(rows), folder / "readings.parquet")
