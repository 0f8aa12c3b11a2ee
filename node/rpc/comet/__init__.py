"""The CometBFT v0.38-compatible JSON-RPC (chain level), so CometBFT clients work unchanged.

- ``methods``: node info and submission, and ``install`` (registers every method);
- ``chain``: block, header, commit, validator and genesis reads; ``txs``: tx and ABCI reads;
- ``index``: the bounded event index behind ``tx_search``; ``query``: the event query language;
- ``shapes``: our types in CometBFT's JSON shapes.

Transport (POST ``/``, GET ``/<method>``, ``/websocket``) is ``node.rpc.server``,
``node.rpc.jsonrpc`` and ``node.rpc.websocket``.
"""
