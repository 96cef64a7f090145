"""A push is bounded before it is parsed, parsed once off the event loop, checked on exactly
what will be stored, and bad file names are 4xx problems (issue 12: H2, M1, Low)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from sentier import auth
from sentier.api import create_app, jobs
from sentier.catalog import ingest_source, pushed
from sentier.catalog import reader as reader_module
from sentier.catalog.descriptors import parse_documents
from sentier.catalog.nesting import MAX_FLOW_DEPTH, too_deep_line
from sentier.config import get_settings
from sentier.store import session_scope
from sentier.store.models import CatalogSource, Entity
from tests.api.conftest import Tokens, wait_for_job, write_catalog

DOC = (
    "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: {name}\n"
    "spec:\n  type: service\n  lifecycle: production\n  owner: {owner}\n"
)
PROBLEM = "application/problem+json"


@pytest.fixture
def api(sqlite_engine: Engine, tmp_path: Path) -> Iterator[tuple[TestClient, Tokens]]:
    with session_scope(sqlite_engine) as session:
        assert ingest_source(session, [write_catalog(tmp_path / "catalog")], name="base").ok
        tokens = Tokens(
            auth.create_token(session, name="admin", role="admin").secret,
            auth.create_token(session, name="ci", role="editor", groups=["team-a"]).secret,
            auth.create_token(session, name="reader", role="viewer").secret,
        )
    with TestClient(create_app(), base_url="http://127.0.0.1") as client:
        yield client, tokens


def _push(client: TestClient, tokens: Tokens, files: dict[str, str], name: str = "set") -> Any:
    return client.post(
        "/api/v1/sources/push", headers=tokens.header("editor"), json={"name": name, "files": files}
    )


def _no_leftovers() -> None:
    """A refused push leaves no staging directory (nor anything else) behind."""
    root = Path(get_settings().home) / "pushed"
    if root.exists():
        assert [p.name for p in root.iterdir() if p.name != ".lock"] == []


# -- H2: deep nesting is refused before the parser sees it -----------------------------------


def test_forty_thousand_brackets_are_refused_before_parsing_with_file_and_line(
    api: tuple[TestClient, Tokens], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, tokens = api
    import ryaml

    def parser_reached(text: str) -> Any:
        if text.count("[") > MAX_FLOW_DEPTH:
            raise AssertionError("the deep document reached the YAML parser")
        return real_loads(text)

    real_loads = ryaml.loads
    monkeypatch.setattr(ryaml, "loads", parser_reached)
    deep = DOC.format(name="deep", owner="team-a") + "---\n# bomb\nx: " + "[" * 40_000 + "\n"
    response = _push(
        client, tokens, {"ok.yaml": DOC.format(name="fine", owner="team-a"), "d.yaml": deep}
    )
    assert response.status_code == 422 and response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["type"] == "urn:sentier:problem:too-deep"
    assert body["detail"].startswith("d.yaml:11: ")
    assert f"nested more than {MAX_FLOW_DEPTH} deep" in body["detail"]
    assert client.get("/healthz").status_code == 200
    _no_leftovers()


def test_the_pre_scan_counts_flow_depth_not_text(tmp_path: Path) -> None:
    depth = MAX_FLOW_DEPTH + 1
    refused = [
        "x: " + "[" * depth + "]" * depth,
        "x: {a: " * depth + "1" + "}" * depth,
        "- - " + "[" * depth,
        'x: ["]]]]", ' + "[" * depth,  # a quoted bracket does not close anything
        "x: [it's, " + "[" * depth,  # an apostrophe inside a plain scalar opens no quote
        "x: [a, # ]]]]\n  " + "[" * depth,  # nor does a comment close
        'x: "multi\n  line ]]]"\ny: ' + "[" * depth,
    ]
    for text in refused:
        assert too_deep_line(text) is not None, text
    accepted = [
        "x: '" + "[" * 1000 + "'",
        'x: "' + "[" * 1000 + '"',
        "x: text [" + "[" * 1000,  # brackets inside a plain scalar are text
        "x: |\n  " + "[" * 1000 + "\n  more\ny: 1",
        "# " + "[" * 1000,
        "x: " + "[" * MAX_FLOW_DEPTH + "]" * MAX_FLOW_DEPTH,
    ]
    for text in accepted:
        assert too_deep_line(text) is None, text[:40]
    # The CLI and the ingestion get the same located refusal, the file's other documents kept.
    path = tmp_path / "catalog-info.yaml"
    path.write_text(DOC.format(name="fine", owner="team-a") + "---\nx:\n  - " + "{" * 500)
    parsed = reader_module.read_descriptor(path, path.read_bytes())
    assert [e.name for e in parsed.entities] == ["fine"]
    (problem,) = parsed.problems
    assert (problem.code, problem.line) == ("too-deep", 11)
    documents = list(parse_documents("a: 1\n---\nb: " + "[" * 100))
    assert documents[1].error_code == "too-deep" and documents[1].data is None


def test_deep_yaml_placeholders_are_refused_too(tmp_path: Path) -> None:
    (tmp_path / "data.yaml").write_text("x: " + "[" * 5000)
    path = tmp_path / "catalog-info.yaml"
    path.write_text(
        DOC.format(name="fine", owner="team-a").replace(
            "spec:", "  annotations:\n    x: {$yaml: ./data.yaml}\nspec:"
        )
    )
    parsed = reader_module.read_descriptor(path, path.read_bytes())
    assert parsed.entities == [] and "nested more than 64 deep" in parsed.problems[0].message


# -- H2: parsed once, off the event loop, within a budget; sizes ---------------------------


def test_each_pushed_file_is_parsed_once_off_the_event_loop(
    api: tuple[TestClient, Tokens], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, tokens = api
    parses: list[str] = []
    loops: list[bool] = []
    real = reader_module.parse_documents

    def counting(text: str) -> Any:
        parses.append(text)
        try:
            asyncio.get_running_loop()
            loops.append(True)
        except RuntimeError:
            loops.append(False)
        return real(text)

    monkeypatch.setattr(reader_module, "parse_documents", counting)
    monkeypatch.setattr(jobs, "enqueue", lambda *args, **kwargs: "not-run")
    files = {f"f{i}.yaml": DOC.format(name=f"svc-{i}", owner="team-a") for i in range(3)}
    response = _push(client, tokens, files)
    assert response.status_code == 202, response.text
    assert len(parses) == 3 and loops == [False, False, False]


def test_a_push_past_its_time_budget_is_refused(
    api: tuple[TestClient, Tokens], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, tokens = api
    monkeypatch.setattr(pushed, "READ_BUDGET_SECONDS", -1.0)
    response = _push(client, tokens, {"a.yaml": DOC.format(name="a", owner="team-a")})
    assert response.status_code == 422 and response.json()["type"].endswith(":too-slow")
    _no_leftovers()


def test_push_sizes_are_bounded_for_descriptors(api: tuple[TestClient, Tokens]) -> None:
    client, tokens = api
    assert pushed.MAX_FILE_BYTES <= 512 * 1024 and pushed.MAX_PUSH_BYTES <= 4 * 1024 * 1024
    padding = "#" + "x" * 1000 + "\n"
    big = DOC.format(name="big", owner="team-a") + padding * 600  # about 600 KB
    response = _push(client, tokens, {"big.yaml": big})
    assert response.status_code == 413, response.status_code
    assert response.json()["detail"].startswith("big.yaml: ")
    many = {f"f{i}.yaml": padding * 400 for i in range(12)}  # 12 x 400 KB, each under the limit
    assert _push(client, tokens, many).status_code == 413
    # A body past the limit is refused from its declared length, before it is read.
    huge = b'{"name": "set", "files": {"a.yaml": "' + b"x" * (pushed.MAX_BODY_BYTES + 1) + b'"}}'
    response = client.post(
        "/api/v1/sources/push",
        headers={**tokens.header("editor"), "content-type": "application/json"},
        content=huge,
    )
    assert response.status_code == 413 and response.headers["content-type"] == PROBLEM


# -- M1: two documents for one entity ---------------------------------------------------------


@pytest.mark.parametrize("layout", ["one file", "two files"])
def test_an_entity_defined_twice_in_a_push_is_refused_with_its_location(
    api: tuple[TestClient, Tokens], sqlite_engine: Engine, layout: str
) -> None:
    """The other team's copy first, the editor's own second: the check once saw the second,
    the ingestion stored the first (an entity owned by team-b, created by team-a's editor)."""
    client, tokens = api
    theirs = DOC.format(name="planted", owner="team-b")
    mine = DOC.format(name="planted", owner="team-a")
    if layout == "one file":
        files = {"a.yaml": theirs + "---\n" + mine}
        where = "a.yaml:13: metadata.name: "
    else:
        files = {"a.yaml": theirs, "b.yaml": mine}
        where = "b.yaml:4: metadata.name: "
    response = _push(client, tokens, files)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["type"] == "urn:sentier:problem:duplicate"
    assert body["detail"].startswith(where) and "first defined at a.yaml:1" in body["detail"]
    with session_scope(sqlite_engine) as session:
        assert (
            session.scalar(select(func.count()).select_from(Entity).where(Entity.name == "planted"))
            == 0
        )
        assert session.scalar(select(CatalogSource).where(CatalogSource.name == "set")) is None


def test_ownership_is_checked_on_what_is_stored(api: tuple[TestClient, Tokens]) -> None:
    client, tokens = api
    refused = _push(client, tokens, {"a.yaml": DOC.format(name="x", owner="team-b")})
    assert refused.status_code == 403 and "component:default/x" in refused.json()["detail"]
    accepted = _push(client, tokens, {"a.yaml": DOC.format(name="x", owner="team-a1")})
    job = wait_for_job(client, accepted.json()["job"], tokens.header("editor"))
    assert job["summary"]["added"] == 1


# -- Low: file names that used to give a 500 -----------------------------------------------


@pytest.mark.parametrize(
    ("files", "status"),
    [
        ({"a\x00.yaml": "x: 1"}, 400),
        ({"a\n.yaml": "x: 1"}, 400),
        ({"x" * 300 + ".yaml": "x: 1"}, 400),
        ({"/".join(["d"] * 40) + "/a.yaml": "x: 1"}, 400),
        ({"a/" * 400 + "a.yaml": "x: 1"}, 400),
        ({"a.yaml": "x: 1", "a.yaml/b.yaml": "x: 1"}, 400),
        ({"a.yaml": "x: 1", "./a.yaml": "x: 1"}, 400),
        ({"../a.yaml": "x: 1"}, 400),
        ({"a.txt": "x: 1"}, 400),
        ({}, 400),
    ],
)
def test_bad_file_names_are_4xx_problems(
    api: tuple[TestClient, Tokens], files: dict[str, str], status: int
) -> None:
    client, tokens = api
    response = _push(client, tokens, files)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    json.dumps(response.json(), ensure_ascii=False).encode("utf-8")  # printable, valid JSON
    assert client.get("/healthz").status_code == 200
    _no_leftovers()


@pytest.mark.parametrize("where", ["name", "text"])
def test_lone_surrogates_are_4xx_problems(api: tuple[TestClient, Tokens], where: str) -> None:
    client, tokens = api
    name, text = ("\\ud800.yaml", "x: 1") if where == "name" else ("a.yaml", "x: \\udc00")
    raw = f'{{"name": "set", "files": {{"{name}": "{text}"}}}}'.encode()
    response = client.post(
        "/api/v1/sources/push",
        headers={**tokens.header("editor"), "content-type": "application/json"},
        content=raw,
    )
    assert 400 <= response.status_code < 500 and response.headers["content-type"] == PROBLEM
    _no_leftovers()


def test_the_domain_check_names_each_bad_file_without_echoing_it_raw() -> None:
    cases = {
        "\ud800.yaml": "not valid Unicode",
        "a\x00.yaml": "control characters",
        "a" * 256 + ".yaml": "longer than 255 bytes",
    }
    for name, message in cases.items():
        with pytest.raises(pushed.PushRefused) as refused:
            pushed.check_files({name: "x: 1"})
        assert message in str(refused.value)
        str(refused.value).encode("utf-8")  # no lone surrogate in the message
    with pytest.raises(pushed.PushRefused, match="is both a file and the directory of"):
        pushed.check_files({"a.yaml/b.yaml": "", "a.yaml": ""})
    with pytest.raises(pushed.PushRefused, match="lone surrogate at character 3"):
        pushed.check_files({"a.yaml": "x: \udc00"})
    assert pushed.check_files({"d/a.yaml": "é"}) == {PurePosixPath("d/a.yaml"): "é".encode()}
