"""The `write` fixture: small descriptor trees under the test's tmp_path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.catalog.builders import Writer


@pytest.fixture
def write(tmp_path: Path) -> Writer:
    """write("svc/catalog-info.yaml", [docs...]) -> the file's path, under tmp_path/tree."""

    def _write(relative: str, documents: list[dict[str, Any]]) -> Path:
        path = tmp_path / "tree" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump_all(documents, sort_keys=False))
        return path

    return _write
