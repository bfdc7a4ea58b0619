"""Pre-built declarative connectors: a packaged spec each, registered under the
``isthmus.connectors`` entry point like any connector type. A Connection gives only the
values the spec declares (tenant, client id, ``secret://`` references, …)."""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any, ClassVar

from pydantic import Field
from ruamel.yaml import YAML

from isthmus.connectors.base import Connector, ConnectorConfig, ConnectorContext
from isthmus.connectors.declarative.config import DeclarativeConfig
from isthmus.connectors.declarative.connector import DeclarativeConnector
from isthmus.connectors.declarative.spec import DeclarativeSpec


@cache
def packaged_spec(file: str) -> DeclarativeSpec:
    text = files(__package__).joinpath(file).read_text(encoding="utf-8")
    return DeclarativeSpec.model_validate(YAML(typ="safe").load(text))


class PrebuiltConnectorType:
    """A connector type whose spec ships with the hub."""

    name: ClassVar[str]
    summary: ClassVar[str]
    spec_file: ClassVar[str]
    supports_proxy: ClassVar[bool] = False
    config_model: ClassVar[type[ConnectorConfig]]

    def __init_subclass__(cls) -> None:
        packaged = packaged_spec(cls.spec_file)

        class Config(DeclarativeConfig):
            bound_spec: ClassVar[DeclarativeSpec | None] = packaged
            spec: None = Field(default=None, description="Comes with the connector type.")

        Config.__name__ = Config.__qualname__ = f"{cls.__name__}Config"
        cls.config_model = Config

    def open(self, config: Any, context: ConnectorContext) -> Connector:
        assert isinstance(config, DeclarativeConfig)
        return DeclarativeConnector(packaged_spec(self.spec_file), config, context)


class MicrosoftGraph(PrebuiltConnectorType):
    name = "microsoft-graph"
    summary = "Microsoft Graph: users, groups and a mailbox's messages (application access)."
    spec_file = "microsoft-graph.yaml"


class ServiceNow(PrebuiltConnectorType):
    name = "servicenow"
    summary = "ServiceNow Table API: incidents and any table, with encoded-query filters."
    spec_file = "servicenow.yaml"


class Salesforce(PrebuiltConnectorType):
    name = "salesforce"
    summary = "Salesforce: SOQL queries paged by nextRecordsUrl, sObject create/read/update/delete."
    spec_file = "salesforce.yaml"


class Workday(PrebuiltConnectorType):
    name = "workday"
    summary = "Workday: workers and organizations (REST API), custom reports (RaaS)."
    spec_file = "workday.yaml"
