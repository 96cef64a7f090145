"""Log template mining: streaming, bounded, one configuration for every source."""

from sentier.aiops.logs.headers import LogFormat, compile_format
from sentier.aiops.logs.masks import WILDCARD, Mask, MaskSet, default_masks
from sentier.aiops.logs.miner import Mined, MinerSettings, Template, TemplateMiner, parameters
from sentier.aiops.logs.parse import (
    FileResult,
    ParsedLine,
    ParseReport,
    event_id,
    load_settings,
    parse_file,
    parse_stream,
    read_lines,
    write_templates,
)
from sentier.aiops.logs.state import list_miners, load_miner, save_miner

__all__ = [
    "WILDCARD",
    "FileResult",
    "LogFormat",
    "Mask",
    "MaskSet",
    "Mined",
    "MinerSettings",
    "ParseReport",
    "ParsedLine",
    "Template",
    "TemplateMiner",
    "compile_format",
    "default_masks",
    "event_id",
    "list_miners",
    "load_miner",
    "load_settings",
    "parameters",
    "parse_file",
    "parse_stream",
    "read_lines",
    "save_miner",
    "write_templates",
]
