"""``isthmus demo``: the printed curl line works, and without the key it is a 401 problem."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from isthmus.store import Store
from tests.e2e.proc import Process
from tests.helpers import PROBLEM_FIELDS, free_port

pytestmark = pytest.mark.e2e


def run_curl(command: str) -> tuple[int, str, str]:
    """Run a printed curl line; -i added so the status and content type can be checked."""
    args = shlex.split(command)
    assert args[0] == "curl"
    result = subprocess.run([args[0], "-i", *args[1:]], capture_output=True, text=True, timeout=30)
    head, _, body = result.stdout.replace("\r\n", "\n").partition("\n\n")
    status = int(head.split()[1])
    content_type = re.search(r"(?im)^content-type:\s*(\S+)", head)
    return status, content_type.group(1) if content_type else "", body


def start_demo(tmp_path: Path) -> Process:
    """``isthmus demo`` on free ports, its state in ``tmp_path/demo``."""
    gateway, control, crm = (str(free_port()) for _ in range(3))
    args = ["--home", str(tmp_path / "demo"), "--gateway-port", gateway]
    args += ["--control-port", control, "--crm-port", crm]
    return Process(["demo", *args], tmp_path)


async def test_demo_prints_a_curl_that_lists_customers(tmp_path: Path) -> None:
    demo = start_demo(tmp_path)
    try:
        text = await demo.wait_for_text("/graphql")
        curls = [line.strip() for line in text.splitlines() if line.strip().startswith("curl ")]
        with_key, without_key, publish, view, sql, graphql = curls
        assert "X-Api-Key: isk_sandbox_" in with_key
        assert re.search(r"admin API +http://127\.0\.0\.1:\d+/admin/docs", text)

        status, content_type, body = run_curl(with_key)
        assert status == 200
        assert content_type.startswith("application/json")
        customers = json.loads(body)["items"]
        assert len(customers) == 6
        assert customers[0]["name"] == "Ada Lovelace"

        status, content_type, body = run_curl(without_key)
        assert status == 401
        assert content_type == "application/problem+json"
        problem = json.loads(body)
        assert set(problem) >= PROBLEM_FIELDS
        assert "X-Api-Key" in problem["remediation"]

        status, content_type, body = run_curl(publish)
        assert status == 202, body
        assert json.loads(body)["dataschema"] == "urn:isthmus:eventtype:customer-created:v1"

        # customer_360: the CRM (REST), billing (SQL) and the plant (Parquet) in one View
        status, _, body = run_curl(view)
        assert status == 200, body
        gold = json.loads(body)["value"]
        assert [c["name"] for c in gold] == ["Ada Lovelace", "Katherine Johnson"]
        assert all(c["invoices"] == 8 and c["machine"] and c["temperature"] for c in gold)
        status, _, body = run_curl(sql)
        assert status == 200, body
        answer = json.loads(body)
        assert len(answer["value"]) == 3
        assert {s["source"] for s in answer["sources"]} == {
            "crm-records.customers", "billing.invoices", "plant.readings"
        }  # fmt: skip
        status, _, body = run_curl(graphql)
        assert status == 200, body
        assert len(json.loads(body)["data"]["customer_360"]["items"]) == 3
        odata = re.search(r"(http://\S+/insights/v1/odata/)", text)
        assert odata is not None
        key = re.search(r"(isk_sandbox_\S+?)'", with_key)
        assert key is not None
        status, _, body = run_curl(f"curl -s '{odata.group(1)}customer_360?api_key={key.group(1)}'")
        assert status == 200, body
        assert len(json.loads(body)["value"]) == 6
    finally:
        code = demo.stop()
    assert code == 0, demo.output
    assert "Demo stopped." in demo.output


async def test_demo_runs_twice_on_the_same_home(tmp_path: Path) -> None:
    """A second run re-applies cleanly and revokes the previous run's demo key."""
    keys = []
    for _ in range(2):
        demo = start_demo(tmp_path)
        try:
            text = await demo.wait_for_text("/graphql")
            keys += sorted(set(re.findall(r"isk_sandbox_\S+?(?=')", text)))  # one per run
        finally:
            assert demo.stop() == 0, demo.output
    assert len(keys) == 2
    async with Store.open(f"sqlite+aiosqlite:///{tmp_path / 'demo' / 'isthmus.db'}") as store:
        issued = await store.keys.list("demo-app")
    assert [k.id in keys[0] for k in issued] == [True, False]
    assert issued[0].revoked_at is not None
    assert issued[1].revoked_at is None
