"""YAML config → validated settings.

`load_config` reads the file with the line of every key, substitutes `${VAR}` and
`${VAR:-default}` from the environment, and validates with the pydantic models in `settings`.
Every problem becomes a `ConfigError` naming the file, the line and the key path, e.g.
`cartback.yaml:14: flows[0].abandon_after: '30x' is not a duration (write e.g. 90s, 30m, 2h, 3d)`.
"""

from __future__ import annotations

from cartback.config.base import ConfigError, Problem, parse_duration, read_since
from cartback.config.flows import FlowConfig, StepConfig
from cartback.config.load import load_config
from cartback.config.settings import (
    DATABASE_URL_ENV,
    EmailChannelConfig,
    Settings,
    SmsChannelConfig,
    StoreConfig,
)

__all__ = [
    "DATABASE_URL_ENV",
    "ConfigError",
    "EmailChannelConfig",
    "FlowConfig",
    "Problem",
    "Settings",
    "SmsChannelConfig",
    "StepConfig",
    "StoreConfig",
    "load_config",
    "parse_duration",
    "read_since",
]
