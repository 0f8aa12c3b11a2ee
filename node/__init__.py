"""The machine around the pure core: disk, network, clocks, RPC, CLI and processes."""
