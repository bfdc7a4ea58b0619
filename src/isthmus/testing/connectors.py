"""The connector contract: what the hub relies on from every connector type."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from isthmus.connectors.base import (
    Connector,
    ConnectorConfig,
    ConnectorContext,
    ConnectorType,
    Health,
    StreamQuery,
)
from isthmus.errors import IsthmusError
from isthmus.governance.audit import MemoryAudit


class StaticSecrets:
    """A secret resolver over a fixed mapping, for tests."""

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self.values = dict(values or {})

    async def resolve(self, reference: str) -> str:
        from isthmus.governance.vault import SecretMissing

        name = reference.removeprefix("secret://")
        if name not in self.values:
            raise SecretMissing(f"No secret '{name}'.")
        return self.values[name]

    async def set(self, name: str, value: str) -> None:
        self.values[name.removeprefix("secret://")] = value


@dataclass
class ConnectorCase:
    """One working configuration of a connector type, against a live test system."""

    connector_type: ConnectorType
    config: dict[str, Any]
    secrets: Mapping[str, str] = field(default_factory=dict)
    # An operation that succeeds with this payload, if the connector has operations.
    sample_operation: tuple[str, dict[str, Any]] | None = None
    # What the connector recorded in the audit log, for the test to read.
    audit: MemoryAudit = field(default_factory=MemoryAudit)

    def context(self) -> ConnectorContext:
        return ConnectorContext("contract", "sandbox", StaticSecrets(self.secrets), self.audit)

    def open(self) -> Connector:
        config = self.connector_type.config_model.model_validate(self.config)
        return self.connector_type.open(config, self.context())


class ConnectorContract:
    """Inherit and define a ``case`` fixture returning a :class:`ConnectorCase`."""

    @pytest.fixture
    def case(self) -> ConnectorCase:
        raise pytest.UsageError("define a 'case' fixture in the subclass")

    def test_declares_itself(self, case: ConnectorCase) -> None:
        kind = case.connector_type
        assert kind.name
        assert kind.name == kind.name.lower()
        assert kind.summary
        assert issubclass(kind.config_model, ConnectorConfig)
        schema = kind.config_model.model_json_schema(by_alias=True)
        assert schema["type"] == "object"

    def test_config_refuses_unknown_fields(self, case: ConnectorCase) -> None:
        with pytest.raises(ValueError, match="xyzzy"):
            case.connector_type.config_model.model_validate({**case.config, "xyzzy": 1})

    async def test_opens_and_closes(self, case: ConnectorCase) -> None:
        async with case.open() as connector:
            assert isinstance(connector, Connector)
        async with case.open():  # a second life from the same config
            pass

    async def test_operations_are_named_and_callable(self, case: ConnectorCase) -> None:
        async with case.open() as connector:
            for name, spec in connector.operations().items():
                assert spec.name == name
            with pytest.raises(IsthmusError) as info:
                await connector.call("no-such-operation-xyzzy", {})
            assert info.value.status == 404
            if case.sample_operation is not None:
                name, payload = case.sample_operation
                assert name in connector.operations()
                await connector.call(name, payload)

    async def test_streams_honour_limit_and_projection(self, case: ConnectorCase) -> None:
        async with case.open() as connector:
            for name, spec in connector.streams().items():
                assert spec.name == name
                rows = [r async for r in connector.read(name, StreamQuery(limit=1))]
                assert len(rows) <= 1
                if spec.pushdown.projection and spec.primary_key:
                    query = StreamQuery(fields=spec.primary_key, limit=2)
                    async for row in connector.read(name, query):
                        assert set(row) == set(spec.primary_key)

    async def test_health_check_answers(self, case: ConnectorCase) -> None:
        async with case.open() as connector:
            health = await connector.check()
            assert isinstance(health, Health)
            assert health.ok, health.detail
