"""The block explorer every node serves at ``/explorer``: static HTML, CSS and plain JavaScript
shipped in this package (``static/``), reading the node's own REST API and websocket from the
same origin. No build step, no third-party code, nothing fetched from elsewhere."""

from node.explorer.route import install

__all__ = ["install"]
