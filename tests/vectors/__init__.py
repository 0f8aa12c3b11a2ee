"""Known-answer vectors of every consensus-critical encoding and hash (see README.md)."""
