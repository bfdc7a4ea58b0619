"""The ways low-code tools reach Views through the gateway: SQL, REST collections,
OData v4 and GraphQL. Each turns its request into SQL for :mod:`isthmus.virtual.service`."""
