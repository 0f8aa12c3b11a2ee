"""The domain REST API under ``/api/v1`` and its OpenAPI document.

- ``routes``: the read routes and ``install``; ``submit``: ``POST /api/v1/txs``;
- ``shapes``: domain records as JSON; ``openapi`` and ``schemas``: the OpenAPI document that
  declares those shapes, and the static docs page (``docs.html``).
"""
