"""Loghub-2k: sentier's template miner beside drain3, on the 16 systems, in the same run.

    python bench/loghub.py --corpora ../shared/corpora   (or SENTIER_CORPORA)

Per system: GA on the original ground truth; GA, FGA, PA and FTA on the corrected one (the
Loghub papers' definitions, ``sentier.aiops.accuracy``). Two configurations each, and for
sentier a third: its one generic configuration with no header format given at all (headers
detected from each file's first 100 lines, as ``sentier logs parse`` does without
``--log-format``):
- generic: ONE configuration for all 16 systems (sentier's defaults; drain3 with the masks
  of its own example configuration);
- per-source: the Loghub benchmark's published per-system settings (its regexes, and for
  Drain its similarity threshold and depth), the way Drain's 0.865 is usually quoted.
Throughput (lines/s on one core, message mining only, the same contents for both) on the 16
concatenated and on HDFS repeated to 1,000,000 lines, with the template count at the end.
drain3 is a dev-only dependency, imported here and nowhere in sentier.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import table, write_section
from sentier.aiops import accuracy
from sentier.aiops.logs import (
    Mask,
    MinerSettings,
    TemplateMiner,
    compile_format,
    read_lines,
)
from sentier.aiops.logs.detect import detect

# The Loghub benchmark's header formats and Drain settings per system (logpai/logparser).
SYSTEMS: dict[str, dict[str, Any]] = {
    "HDFS": {
        "format": "<Date> <Time> <Pid> <Level> <Component>: <Content>",
        "regex": [r"blk_-?\d+", r"(\d+\.){3}\d+(:\d+)?"],
        "st": 0.5,
        "depth": 4,
    },
    "Hadoop": {
        "format": r"<Date> <Time> <Level> \[<Process>\] <Component>: <Content>",
        "regex": [r"(\d+\.){3}\d+"],
        "st": 0.5,
        "depth": 4,
    },
    "Spark": {
        "format": "<Date> <Time> <Level> <Component>: <Content>",
        "regex": [r"(\d+\.){3}\d+", r"\b[KGTM]?B\b", r"([\w-]+\.){2,}[\w-]+"],
        "st": 0.5,
        "depth": 4,
    },
    "Zookeeper": {
        "format": r"<Date> <Time> - <Level>  \[<Node>:<Component>@<Id>\] - <Content>",
        "regex": [r"(/|)(\d+\.){3}\d+(:\d+)?"],
        "st": 0.5,
        "depth": 4,
    },
    "BGL": {
        "format": (
            "<Label> <Timestamp> <Date> <Node> <Time> <NodeRepeat> <Type> <Component> "
            "<Level> <Content>"
        ),
        "regex": [r"core\.\d+"],
        "st": 0.5,
        "depth": 4,
    },
    "HPC": {
        "format": "<LogId> <Node> <Component> <State> <Time> <Flag> <Content>",
        "regex": [r"=\d+"],
        "st": 0.5,
        "depth": 4,
    },
    "Thunderbird": {
        "format": (
            r"<Label> <Timestamp> <Date> <User> <Month> <Day> <Time> <Location> "
            r"<Component>(\[<PID>\])?: <Content>"
        ),
        "regex": [r"(\d+\.){3}\d+"],
        "st": 0.5,
        "depth": 4,
    },
    "Windows": {
        "format": "<Date> <Time>, <Level>                  <Component>    <Content>",
        "regex": [r"0x.*?\s"],
        "st": 0.7,
        "depth": 5,
    },
    "Linux": {
        "format": r"<Month> <Date> <Time> <Level> <Component>(\[<PID>\])?: <Content>",
        "regex": [r"(\d+\.){3}\d+", r"\d{2}:\d{2}:\d{2}"],
        "st": 0.39,
        "depth": 6,
    },
    "Android": {
        "format": "<Date> <Time>  <Pid>  <Tid> <Level> <Component>: <Content>",
        "regex": [
            r"(/[\w-]+)+",
            r"([\w-]+\.){2,}[\w-]+",
            r"\b(\-?\+?\d+)\b|\b0[Xx][a-fA-F\d]+\b|\b[a-fA-F\d]{4,}\b",
        ],
        "st": 0.2,
        "depth": 6,
    },
    "HealthApp": {
        "format": r"<Time>\|<Component>\|<Pid>\|<Content>",
        "regex": [],
        "st": 0.2,
        "depth": 4,
    },
    "Apache": {
        "format": r"\[<Time>\] \[<Level>\] <Content>",
        "regex": [r"(\d+\.){3}\d+"],
        "st": 0.5,
        "depth": 4,
    },
    "Proxifier": {
        "format": r"\[<Time>\] <Program> - <Content>",
        "regex": [
            r"<\d+\ssec",
            r"([\w-]+\.)+[\w-]+(:\d+)?",
            r"\d{2}:\d{2}(:\d{2})*",
            r"[KGTM]B",
        ],
        "st": 0.6,
        "depth": 3,
    },
    "OpenSSH": {
        "format": r"<Date> <Day> <Time> <Component> sshd\[<Pid>\]: <Content>",
        "regex": [r"(\d+\.){3}\d+", r"([\w-]+\.){2,}[\w-]+"],
        "st": 0.6,
        "depth": 5,
    },
    "OpenStack": {
        "format": r"<Logrecord> <Date> <Time> <Pid> <Level> <Component> \[<ADDR>\] <Content>",
        "regex": [r"((\d+\.){3}\d+,?)+", r"/.+?\s", r"\d+"],
        "st": 0.5,
        "depth": 5,
    },
    "Mac": {
        "format": r"<Month>  <Date> <Time> <User> <Component>\[<PID>\]( \(<Address>\))?: <Content>",
        "regex": [r"([\w-]+\.){2,}[\w-]+"],
        "st": 0.7,
        "depth": 6,
    },
}

# drain3's own example configuration (its drain3.ini), with every mask rendered as <*>.
DRAIN3_GENERIC_MASKS = [
    r"((?<=[^A-Za-z0-9])|^)(([0-9a-f]{2,}:){3,}([0-9a-f]{2,}))((?=[^A-Za-z0-9])|$)",
    r"((?<=[^A-Za-z0-9])|^)(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})((?=[^A-Za-z0-9])|$)",
    r"((?<=[^A-Za-z0-9])|^)([0-9a-f]{6,} ?){3,}((?=[^A-Za-z0-9])|$)",
    r"((?<=[^A-Za-z0-9])|^)([0-9A-F]{4} ?){4,}((?=[^A-Za-z0-9])|$)",
    r"((?<=[^A-Za-z0-9])|^)(0x[a-f0-9A-F]+)((?=[^A-Za-z0-9])|$)",
    r"((?<=[^A-Za-z0-9])|^)([\-\+]?\d+)((?=[^A-Za-z0-9])|$)",
]


@dataclass
class Run:
    ids: list[Any]
    templates: list[str]
    count: int


class Parser:
    """One parser under test: mine contents, give final group ids and templates per line."""

    name: str

    def run(self, contents: Sequence[str]) -> Run:
        raise NotImplementedError


class Sentier(Parser):
    def __init__(self, settings: MinerSettings | None = None) -> None:
        self.settings = settings
        self.name = "sentier"
        self.miner = TemplateMiner(settings)

    def fresh(self) -> Sentier:
        return Sentier(self.settings)

    def feed(self, contents: Sequence[str]) -> None:
        add = self.miner.add
        for content in contents:
            add(content)

    def run(self, contents: Sequence[str]) -> Run:
        miner = self.miner
        mined = [miner.add(c) for c in contents]
        miner.refresh()
        finals = [miner.template_of(m.signature) for m in mined]
        return Run(
            [t.id if t else -1 for t in finals],
            [t.text if t else "" for t in finals],
            len(miner),
        )


class Drain3(Parser):
    def __init__(self, masks: Sequence[str], st: float = 0.4, depth: int = 4) -> None:
        from drain3 import TemplateMiner as Drain3Miner
        from drain3.masking import MaskingInstruction
        from drain3.template_miner_config import TemplateMinerConfig

        self.name = "drain3"
        self.masks, self.st, self.depth = list(masks), st, depth
        config = TemplateMinerConfig()
        config.masking_instructions = [MaskingInstruction(m, "*") for m in masks]
        config.mask_prefix, config.mask_suffix = "<", ">"
        config.drain_sim_th = st
        config.drain_depth = depth
        config.profiling_enabled = False
        self.miner = Drain3Miner(config=config)

    def fresh(self) -> Drain3:
        return Drain3(self.masks, self.st, self.depth)

    def feed(self, contents: Sequence[str]) -> None:
        add = self.miner.add_log_message
        for content in contents:
            add(content)

    def run(self, contents: Sequence[str]) -> Run:
        ids = [self.miner.add_log_message(c)["cluster_id"] for c in contents]
        clusters = {c.cluster_id: c.get_template() for c in self.miner.drain.clusters}
        return Run(ids, [clusters[i] for i in ids], len(clusters))


def load(corpora: Path, system: str) -> tuple[list[str], list[str], list[str]]:
    """Message contents (header split by the Loghub format), original ids, corrected templates."""
    folder = corpora / "loghub-2k" / system
    log_format = compile_format(SYSTEMS[system]["format"])
    contents = []
    for number, line in enumerate(read_lines(folder / f"{system}_2k.log"), start=1):
        fields = log_format.split(line)
        if fields is None:
            raise SystemExit(f"{system}:{number}: does not match its log format")
        contents.append(fields["Content"].strip())
    with (folder / f"{system}_2k.log_structured.csv").open(encoding="utf-8") as handle:
        original = [row["EventId"] for row in csv.DictReader(handle)]
    corrected_path = folder / f"{system}_2k.log_structured_corrected.csv"
    with corrected_path.open(encoding="utf-8") as handle:
        corrected = [row["EventTemplate"] for row in csv.DictReader(handle)]
    if not len(contents) == len(original) == len(corrected):
        raise SystemExit(f"{system}: {len(contents)} lines but {len(original)} labels")
    return contents, original, corrected


def load_detected(corpora: Path, system: str) -> tuple[list[str], str]:
    """Message contents with the header format detected from the first 100 lines (a line it
    does not split is mined whole), and the format's name."""
    lines = list(read_lines(corpora / "loghub-2k" / system / f"{system}_2k.log"))
    found = detect(lines[:100])
    contents = []
    for line in lines:
        fields = found.format.split(line) if found.format else None
        contents.append((fields["Content"] if fields else line).strip())
    return contents, found.format.text if found.format else "none"


def score(run: Run, original: list[str], corrected: list[str]) -> dict[str, float]:
    return {
        "GA": accuracy.grouping(original, run.ids).ga,
        "GA*": accuracy.grouping(corrected, run.ids).ga,
        "FGA*": accuracy.grouping(corrected, run.ids).fga,
        "PA*": accuracy.parsing_accuracy(corrected, run.templates),
        "FTA*": accuracy.template_accuracy(corrected, run.ids, run.templates),
    }


def per_source_settings(system: str) -> MinerSettings:
    regexes = SYSTEMS[system]["regex"]
    return MinerSettings(
        extra_masks=tuple(Mask(f"loghub-{i}", r) for i, r in enumerate(regexes)),
    )


def throughput(factory: Callable[[], Any], contents: Sequence[str]) -> tuple[float, int]:
    parser = factory()
    start = time.perf_counter()
    parser.feed(contents)
    elapsed = time.perf_counter() - start
    if isinstance(parser, Sentier):
        parser.miner.refresh()
        count = len(parser.miner)
    else:
        count = len(parser.miner.drain.clusters)
    return len(contents) / elapsed, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpora", type=Path, default=os.environ.get("SENTIER_CORPORA"))
    parser.add_argument("--repeat-lines", type=int, default=1_000_000)
    args = parser.parse_args()
    if not args.corpora or not (Path(args.corpora) / "loghub-2k").is_dir():
        raise SystemExit("loghub-2k not found: pass --corpora DIR or set SENTIER_CORPORA")
    corpora = Path(args.corpora)

    metrics = ["GA", "GA*", "FGA*", "PA*", "FTA*"]
    configs: dict[str, Callable[[str], Parser]] = {
        "sentier generic": lambda s: Sentier(),
        "sentier per-source": lambda s: Sentier(per_source_settings(s)),
        "drain3 generic": lambda s: Drain3(DRAIN3_GENERIC_MASKS),
        "drain3 per-source": lambda s: Drain3(
            SYSTEMS[s]["regex"], SYSTEMS[s]["st"], SYSTEMS[s]["depth"]
        ),
    }
    detected_name = "sentier generic, headers detected"
    results: dict[str, dict[str, dict[str, float]]] = {c: {} for c in (*configs, detected_name)}
    detected_formats: dict[str, str] = {}
    all_contents: list[str] = []
    hdfs: list[str] = []
    for system in SYSTEMS:
        contents, original, corrected = load(corpora, system)
        all_contents.extend(contents)
        if system == "HDFS":
            hdfs = contents
        for config, make in configs.items():
            results[config][system] = score(make(system).run(contents), original, corrected)
        found, detected_formats[system] = load_detected(corpora, system)
        results[detected_name][system] = score(Sentier().run(found), original, corrected)
        print(
            f"{system:12s} "
            + "  ".join(
                f"{c}: GA {results[c][system]['GA']:.3f} PA* {results[c][system]['PA*']:.3f}"
                for c in ("sentier generic", "drain3 generic")
            ),
            flush=True,
        )

    def average(config: str, metric: str) -> float:
        return sum(r[metric] for r in results[config].values()) / len(results[config])

    rows = []
    for system in SYSTEMS:
        row: list[object] = [system]
        for config in ("sentier generic", "drain3 generic"):
            row += [f"{results[config][system][m]:.3f}" for m in metrics]
        rows.append(row)
    rows.append(
        ["**average**"]
        + [
            f"**{average(c, m):.3f}**"
            for c in ("sentier generic", "drain3 generic")
            for m in metrics
        ]
    )
    headers = ["system"] + [f"{who} {m}" for who in ("sentier", "drain3") for m in metrics]
    summary = [[config] + [f"{average(config, m):.3f}" for m in metrics] for config in results]

    generic_ours = throughput(lambda: Sentier(), all_contents)
    generic_drain = throughput(lambda: Drain3(DRAIN3_GENERIC_MASKS), all_contents)
    repeated = (hdfs * (args.repeat_lines // len(hdfs) + 1))[: args.repeat_lines]
    hdfs_ours = throughput(lambda: Sentier(), repeated)
    hdfs_drain = throughput(lambda: Drain3(DRAIN3_GENERIC_MASKS), repeated)
    true_hdfs = len(set(load(corpora, "HDFS")[2]))
    speed = [
        [
            f"16 systems concatenated ({len(all_contents):,} lines)",
            round(generic_ours[0]),
            round(generic_drain[0]),
            f"{generic_ours[0] / generic_drain[0]:.2f}x",
            generic_ours[1],
            generic_drain[1],
        ],
        [
            f"HDFS repeated to {len(repeated):,} lines (true templates: {true_hdfs})",
            round(hdfs_ours[0]),
            round(hdfs_drain[0]),
            f"{hdfs_ours[0] / hdfs_drain[0]:.2f}x",
            hdfs_ours[1],
            hdfs_drain[1],
        ],
    ]
    body = "\n\n".join(
        [
            "Averages over the 16 Loghub-2k systems. GA on the original ground truth; "
            "starred metrics on the corrected ground truth (Loghub-2.0 / Khan et al.).",
            table(["configuration", *metrics], summary),
            "Per system, one generic configuration each (sentier's defaults; drain3 with the "
            "masks of its example drain3.ini, sim_th 0.4, depth 4):",
            table(headers, rows),
            "With no header format given (sentier generic, headers detected): the format "
            "detection chose, and the GA it gave, per system: "
            + ", ".join(
                f"{system} {detected_formats[system]} {results[detected_name][system]['GA']:.3f}"
                for system in SYSTEMS
            )
            + ".",
            "Throughput: message mining on one core, same contents for both, in this run.",
            table(
                [
                    "input",
                    "sentier lines/s",
                    "drain3 lines/s",
                    "ratio",
                    "sentier templates",
                    "drain3 templates",
                ],
                speed,
            ),
        ]
    )
    write_section("loghub", "Log template mining on Loghub-2k (sentier vs drain3)", body)


if __name__ == "__main__":
    main()
