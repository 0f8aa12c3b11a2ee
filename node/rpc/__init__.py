"""The node's RPC over HTTP (aiohttp): what clients see of a running node.

- ``server``: the HTTP app, body limits, error answers and ``/metrics``;
- ``jsonrpc``: JSON-RPC 2.0 plumbing shared by POST ``/``, GET ``/<method>`` and the websocket;
- ``websocket``: ``/websocket``, JSON-RPC plus CometBFT-style event subscriptions;
- ``comet/``: the CometBFT v0.38-compatible methods; ``rest/``: the domain REST API ``/api/v1``.
"""
