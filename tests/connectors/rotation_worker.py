"""One hub process's share of the cross-process rotation test: opens the Workday
connector on a shared store and vault, reads ``ROUNDS`` times, prints what it got.

    python -m tests.connectors.rotation_worker STORE_URL VAULT_KEY FAKE_URL ROUNDS
"""

from __future__ import annotations

import asyncio
import sys

import orjson

from isthmus.connectors.base import ConnectorContext, StreamQuery
from isthmus.connectors.registry import connector_type
from isthmus.governance.vault import Vault
from isthmus.store import Store
from tests.connectors.fakes import workday


async def main(store_url: str, key: str, fake_url: str, rounds: int) -> None:
    kind = connector_type("workday")
    config = kind.config_model.model_validate(
        {
            "values": {
                "host": "unused.example",
                "tenant": workday.TENANT,
                "clientId": workday.CLIENT_ID,
                "clientSecret": "secret://wd-secret",
                "refreshToken": "secret://wd-refresh",
                "reportOwner": "lmcneil",
                "report": "Headcount",
            },
            "baseUrl": f"{fake_url}/ccx",
            "allowPrivateNetwork": True,
        }
    )
    read = 0
    async with Store.open(store_url) as store:
        vault = Vault.with_key(store.secrets, key)
        async with kind.open(config, ConnectorContext("hr", "sandbox", vault)) as connector:
            for _ in range(rounds):
                query = StreamQuery(limit=5)
                read += len([r async for r in connector.read("workers", query)])
    sys.stdout.write(orjson.dumps({"read": read}).decode() + "\n")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
