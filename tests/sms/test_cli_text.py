"""`smsc text inspect`: the CLI face of plan()."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from smsc.cli import main


def run(*args: str):
    return CliRunner().invoke(main, ["text", "inspect", *args])


JSON_CASES = [
    # label, args, encoding, data_coding, segments
    ("plain english", ["Hello world"], "gsm7", 0, 1),
    ("hebrew", ["שלום דנה"], "ucs2", 8, 1),
    ("long gsm", ["A" * 200], "gsm7", 0, 2),
    ("turkish preset", ["Sayın Ayşe Hanım", "--profile", "tr"], "gsm7", 0, 1),
    ("turkish without preset", ["Sayın Ayşe Hanım"], "ucs2", 8, 1),
    ("smart option", ["“quoted” – text", "--smart", "on"], "gsm7", 0, 1),
    ("latin1 encodings", ["Olá", "--encodings", "latin1,ucs2"], "latin1", 3, 1),
    ("gsm7 data coding 1", ["hi", "--gsm7-dc", "1"], "gsm7", 1, 1),
]


@pytest.mark.parametrize("label,args,encoding,dc,segments", JSON_CASES, ids=[c[0] for c in JSON_CASES])
def test_inspect_json(label, args, encoding, dc, segments) -> None:
    """When --json is given, one object comes out with encoding, data_coding, segments and
    parts, each part with its UDH and text."""
    result = run(*args, "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert (info["encoding"], info["data_coding"], info["segments"]) == (encoding, dc, segments)
    assert len(info["parts"]) == segments
    assert "".join(p["text"] for p in info["parts"]) == info["text"]
    assert all(p["decoded"] == p["text"] for p in info["parts"])


def test_inspect_udh16_parts() -> None:
    """When udh16 with a fixed reference is asked, each part shows its 16-bit concat UDH."""
    result = run("x" * 200, "--concat", "udh16", "--reference", "258", "--json")
    info = json.loads(result.output)
    assert [p["udh"] for p in info["parts"]] == ["06080401020201", "06080401020202"]
    assert [p["septets"] for p in info["parts"]] == [152, 48]


def test_inspect_human_output() -> None:
    """When --json is not given, a summary line and one line per part are printed."""
    result = run("A" * 170)
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].startswith("gsm7 (data_coding 0): 2 segment(s)")
    assert len(lines) == 3 and "udh=050003" in lines[1]


ERRORS = [
    ("unknown preset", ["hi", "--profile", "klingon"], "unknown profile"),
    ("too many parts", ["A" * 400, "--max-parts", "2"], "allows 2"),
    ("gsm only route with hebrew", ["שלום", "--encodings", "gsm7"], "ucs2"),
    ("unknown encoding", ["hi", "--encodings", "utf7"], "unknown encoding"),
    ("unknown language", ["hi", "--nls", "xx"], "xx"),
]


@pytest.mark.parametrize("label,args,message", ERRORS, ids=[c[0] for c in ERRORS])
def test_inspect_errors_are_one_line(label, args, message) -> None:
    """When the input or profile is wrong, the command exits non-zero with one clear line,
    never a traceback."""
    result = run(*args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
