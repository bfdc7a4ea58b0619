"""A valid project used by several test modules."""

from __future__ import annotations

VALID_PROJECT = {
    "systems.yaml": """
        kind: System
        metadata:
          name: crm
          owner: sales-ops
        spec:
          category: saas
        ---
        kind: System
        metadata: {name: stock, owner: warehouse}
        """,
    "connections.yaml": """
        kind: Connection
        metadata: {name: crm, environment: sandbox}
        spec:
          system: crm
          connector: rest
          config:
            baseUrl: https://crm.example.com/api
            auth: {type: bearer, token: "secret://crm-token"}
        ---
        kind: Connection
        metadata: {name: stock, environment: sandbox}
        spec:
          system: stock
          connector: memory
          config:
            collections:
              items:
                primaryKey: sku
                records:
                  - {sku: A-1, qty: 3}
        """,
    "apis/customers.yaml": """
        kind: Api
        metadata: {name: customers, owner: sales-ops}
        spec:
          versions:
            - name: v1
              routes:
                - {method: GET, path: /customers, target: {type: proxy, connection: crm}}
                - method: get
                  path: /customers/{id}
                  target: {type: proxy, connection: crm, path: "/people/{id}"}
        """,
    "apps.yaml": """
        kind: App
        metadata: {name: portal}
        spec:
          apis: [customers]
          plan: gold
        ---
        kind: Plan
        metadata: {name: gold}
        spec:
          rate: {requests: 100}
        """,
}
