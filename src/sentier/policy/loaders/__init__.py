"""Loaders: every supported input read into the one resource model, errors kept as problems."""

from __future__ import annotations

import os
from collections.abc import Sequence

from sentier.policy.confine import OUTSIDE, may_read
from sentier.policy.model import LoadResult, ParseProblem

SKIP_DIRS = {".terraform", ".git", "node_modules", ".venv", "__pycache__", ".sentier"}
TF_SUFFIX = (".tf", ".tf.json")
YAML_SUFFIXES = (".yaml", ".yml")


def _classify(paths: Sequence[str]) -> tuple[dict[str, list[str]], list[str], list[str], list[str]]:
    """Directories of .tf files (module roots), single .tf files, YAML and JSON files."""
    tf_dirs: dict[str, list[str]] = {}
    tf_files: list[str] = []
    yaml_files: list[str] = []
    json_files: list[str] = []
    for raw in paths:
        path = os.path.normpath(os.fspath(raw))
        if os.path.isfile(path):
            if path.endswith(TF_SUFFIX):
                tf_files.append(path)
            elif path.endswith(YAML_SUFFIXES):
                yaml_files.append(path)
            elif path.endswith(".json"):
                json_files.append(path)
            continue
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
            tf_here = sorted(f for f in files if f.endswith(TF_SUFFIX))
            if tf_here:
                tf_dirs[root] = tf_here
            for name in sorted(files):
                if name.endswith(YAML_SUFFIXES):
                    yaml_files.append(os.path.join(root, name))
                elif name.endswith(".json") and (
                    name.endswith(("plan.json", ".tfplan.json", ".tfstate.json"))
                    or "tfplan" in name
                ):
                    json_files.append(os.path.join(root, name))
            for name in sorted(files):
                if name.endswith(".tfstate"):
                    json_files.append(os.path.join(root, name))
    return tf_dirs, tf_files, yaml_files, json_files


def load_paths(
    paths: Sequence[str | os.PathLike[str]], *, var_files: Sequence[str] = ()
) -> LoadResult:
    """Read every supported file under ``paths``; a bad file is a problem, never a stop."""
    from sentier.policy.hcl.modules import Loader, evaluate_root

    result = LoadResult()
    tf_dirs, tf_files, yaml_files, json_files = _classify([os.fspath(p) for p in paths])
    loader = Loader()
    for directory, names in tf_dirs.items():
        result.resources.extend(evaluate_root(loader, directory, var_files=list(var_files)))
        result.files.extend(os.path.join(directory, n) for n in names)
    for path in tf_files:
        directory, name = os.path.split(path)
        result.resources.extend(
            evaluate_root(loader, directory or ".", only=(name,), var_files=list(var_files))
        )
        result.files.append(path)
    result.problems.extend(loader.problems)
    if yaml_files:
        from sentier.policy.loaders.kubernetes import link_all, load_manifest_text

        for path in yaml_files:
            text = _read(path, result)
            if text is None or "apiVersion" not in text:
                continue
            result.extend(load_manifest_text(text, path))
        link_all(result.resources)
    for path in json_files:
        from sentier.policy.loaders.terraform_json import load_json_file

        text = _read(path, result)
        if text is not None:
            result.extend(load_json_file(text, path))
    return result


def _read(path: str, result: LoadResult) -> str | None:
    if not may_read(path):
        result.problems.append(ParseProblem(path, 1, OUTSIDE))
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as error:
        result.problems.append(ParseProblem(path, 1, f"cannot read: {error}"))
        return None
