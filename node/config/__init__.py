"""Node configuration: a TOML file turned into frozen, validated dataclasses.

The config is read once at start-up and passed down to whoever needs a piece of it; nothing reads
it from a global. Every key is declared once below, with its type, default and a one-line doc
(the doc also becomes the comment in a written file). Validation is complete before anything
starts and every error names the offending key as ``[section].key``. Unknown sections and keys are
errors: a typo such as ``admin_enable = true`` must not pass silently. Defaults are the safe
choice: the RPC listens on 127.0.0.1 only and its admin routes are off.
"""

from node.config.checks import (
    FRAME_OVERHEAD_BYTES,
    LOG_LEVELS,
    PORT_MAX,
    SIGN_STATE_FILE,
    Check,
    ConfigError,
    PeerAddress,
    check_chain_id,
    check_cors_origins,
    check_host,
    check_log_level,
    check_moniker,
    check_non_empty,
    check_peers,
    parse_peer_address,
)
from node.config.loader import (
    CONFIG_FILE_MODE,
    config_from_dict,
    dump_config,
    format_toml_value,
    load_config,
    parse_config,
    validate_config,
    write_config,
)
from node.config.sections import (
    SECTIONS,
    ConsensusSection,
    MempoolSection,
    NodeConfig,
    NodeSection,
    P2PSection,
    RpcSection,
    StorageSection,
)

__all__ = [
    "CONFIG_FILE_MODE",
    "FRAME_OVERHEAD_BYTES",
    "LOG_LEVELS",
    "PORT_MAX",
    "SECTIONS",
    "SIGN_STATE_FILE",
    "Check",
    "ConfigError",
    "ConsensusSection",
    "MempoolSection",
    "NodeConfig",
    "NodeSection",
    "P2PSection",
    "PeerAddress",
    "RpcSection",
    "StorageSection",
    "check_chain_id",
    "check_cors_origins",
    "check_host",
    "check_log_level",
    "check_moniker",
    "check_non_empty",
    "check_peers",
    "config_from_dict",
    "dump_config",
    "format_toml_value",
    "load_config",
    "parse_config",
    "parse_peer_address",
    "validate_config",
    "write_config",
]
