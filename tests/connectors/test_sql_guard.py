"""The SQL statement guard: what a caller's SQL may and may not do, in each dialect."""

from __future__ import annotations

import re

import pytest

from isthmus.connectors.sql.guard import Grants, Schema, StatementRefused, check

SCHEMA = Schema(
    {
        "customers": frozenset({"id", "name", "email", "tier"}),
        "orders": frozenset({"id", "customer_id", "total", "placed_at"}),
    }
)
READ_ONLY = Grants({})
ORDERS_WRITABLE = Grants({"orders": frozenset({"insert", "update"})})
DIALECTS = ["postgres", "mysql", "sqlite"]


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(
    "sql",
    [
        "SELECT id, name FROM customers WHERE tier = :tier ORDER BY name LIMIT 10",
        "SELECT c.name, SUM(o.total) AS spent FROM customers c JOIN orders o "
        "ON o.customer_id = c.id GROUP BY c.name ORDER BY spent DESC",
        "WITH big AS (SELECT customer_id FROM orders WHERE total > :min) "
        "SELECT * FROM customers WHERE id IN (SELECT customer_id FROM big)",
        "SELECT id FROM customers UNION SELECT customer_id FROM orders",
    ],
)
def test_reads_of_the_schema_pass(dialect: str, sql: str) -> None:
    checked = check(sql, dialect, SCHEMA, READ_ONLY)  # type: ignore[arg-type]
    assert checked.kind == "select"
    assert checked.tables <= {"customers", "orders"}


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("DROP TABLE customers", "never run"),
        ("TRUNCATE orders", "never run"),
        ("ALTER TABLE customers ADD COLUMN x INT", "never run"),
        ("CREATE TABLE x (id INT)", "never run"),
        ("SELECT 1 FROM customers; DELETE FROM customers", "exactly one statement"),
        ("SELECT id FROM customers; SELECT id FROM orders", "exactly one statement"),
        ("DELETE FROM customers WHERE id = :id", "read-only for 'customers'"),
        ("UPDATE customers SET tier = 'gold'", "read-only for 'customers'"),
        ("DELETE FROM orders WHERE id = :id", "DELETE is not granted"),
        ("WITH gone AS (DELETE FROM customers RETURNING id) SELECT * FROM gone", "read-only"),
        ("SELECT * FROM customers FOR UPDATE", "read-only for 'customers'"),
        ("SELECT * FROM payroll", "no table 'payroll'"),
        ("SELECT salary FROM customers", "no column 'salary'"),
        ("SELECT pg_sleep(30)", "pg_sleep() is not allowed"),
        ("SELECT sleep(30) FROM customers", "sleep() is not allowed"),
        ("SELECT load_file('/etc/passwd') FROM customers", "load_file() is not allowed"),
        ("SELECT * FROM information_schema.tables", "without a schema"),
        ("SELECT id FROM customers WHERE id = ?", "Name every parameter"),
        ("SELEC id FROM customers", "not valid"),
    ],
)
def test_everything_else_is_refused_with_a_reason(dialect: str, sql: str, reason: str) -> None:
    with pytest.raises(StatementRefused, match=re.escape(reason)) as refused:
        check(sql, dialect, SCHEMA, ORDERS_WRITABLE)  # type: ignore[arg-type]
    assert refused.value.status == 422


def test_granted_writes_pass_and_what_runs_is_the_checked_tree() -> None:
    checked = check(
        "insert into orders (customer_id, total) values (:customer, :total)",
        "postgres",
        SCHEMA,
        ORDERS_WRITABLE,
    )
    assert checked.kind == "insert"
    assert checked.parameters == ("customer", "total")
    assert checked.sql == "INSERT INTO orders (customer_id, total) VALUES (:customer, :total)"
    comment = check(
        "SELECT id FROM customers -- ; DROP TABLE customers", "mysql", SCHEMA, READ_ONLY
    )
    assert comment.sql == "SELECT id FROM customers"  # comments do not travel


def test_a_value_never_becomes_sql() -> None:
    # the injection string is a bound value: the statement is the same whatever it holds
    checked = check("SELECT id FROM customers WHERE email = :email", "postgres", SCHEMA, READ_ONLY)
    assert checked.parameters == ("email",)
    assert "email = :email" in checked.sql
