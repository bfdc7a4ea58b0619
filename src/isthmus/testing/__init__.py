"""Contract suites that every plugin passes: built-in, declarative or third-party.

Subclass a contract in your own tests and provide its fixture; pytest collects the
inherited tests. See docs/concepts.md ("Connectors").
"""

from isthmus.testing.connectors import ConnectorCase, ConnectorContract, StaticSecrets

__all__ = ["ConnectorCase", "ConnectorContract", "StaticSecrets"]
