"""The config model: every problem is one line naming the file, the dotted key and what is wrong."""

from __future__ import annotations

import dataclasses
import typing

import pytest

from smsc.auth import hash_password
from smsc.config import Config, ConfigError, load_config, parse_config, parse_duration, reference_markdown, render_toml

HASH = hash_password("pw", n=2**4)  # cheap parameters: only the format matters here
MINIMAL = '[database]\nurl = "sqlite:///var/smsc.db"\n'


def write(tmp_path, text: str, name: str = "x.toml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def error_of(tmp_path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert "\n" not in message
    return message[len(path) + 2:]


ERRORS = [
    ("wrong type", MINIMAL + '[smpp_server]\nwindow = "ten"\n', 'smpp_server.window: expected an integer, got "ten"'),
    ("bool is not an int", MINIMAL + "[smpp_server]\nwindow = true\n", "smpp_server.window: expected an integer, got true"),
    ("float is not an int", MINIMAL + "[node]\nid = 1.5\n", "node.id: expected an integer, got 1.5"),
    ("unknown key with suggestion", MINIMAL + "[smpp_server]\nwindw = 10\n",
     'unknown key "smpp_server.windw" (did you mean "smpp_server.window"?)'),
    ("unknown section", MINIMAL + "[smtp]\nport = 1\n", 'unknown key "smtp"'),
    ("missing required", "[node]\nid = 1\n", 'missing required value "database.url"'),
    ("missing required in array", MINIMAL + '[[accounts]]\nsystem_id = "a"\n', 'missing required value "accounts[0].password_hash"'),
    ("below range", MINIMAL + "[node]\nid = -1\n", "node.id: must be between 0 and 1023, got -1"),
    ("above range", MINIMAL + "[node]\nid = 1024\n", "node.id: must be between 0 and 1023, got 1024"),
    ("min only", MINIMAL + "[smpp_server]\nmax_sessions = 0\n", "smpp_server.max_sessions: must be at least 1, got 0"),
    ("literal", MINIMAL + 'sqlite_synchronous = "OFF"\n',
     'database.sqlite_synchronous: expected one of "FULL", "NORMAL", got "OFF"'),
    ("array expected", "accounts = 3\n" + MINIMAL, "accounts: expected an array, got 3"),
    ("bad duration", MINIMAL + '[smpp_server]\nbind_timeout = "soon"\n',
     'smpp_server.bind_timeout: expected a number of seconds or a duration like "30s", "5m", "2h", got "soon"'),
    ("bad database url", '[database]\nurl = "mysql://x/y"\n', 'database.url: unsupported database "mysql" (use sqlite or postgresql)'),
    ("duplicate account", MINIMAL + f'[[accounts]]\nsystem_id = "a"\npassword_hash = "{HASH}"\n'
     f'[[accounts]]\nsystem_id = "a"\npassword_hash = "{HASH}"\n', 'accounts[1].system_id: duplicate system_id "a"'),
    ("array item type", MINIMAL + f'[[accounts]]\nsystem_id = "a"\npassword_hash = "{HASH}"\nallowed_sources = [1]\n',
     "accounts[0].allowed_sources[0]: expected a string, got 1"),
    ("cross-field check", MINIMAL + "[smpp_server]\nauth_failure_delay = 10\nauth_failure_max_delay = 5\n",
     "smpp_server.auth_failure_max_delay: must be at least auth_failure_delay"),
    ("secret and file", '[database]\nurl = "sqlite:///a.db"\nurl_file = "u"\n', '"database.url" and "database.url_file" are both set; keep one'),
    ("missing secret file", '[database]\nurl_file = "nope.txt"\n', 'database.url_file: cannot read "nope.txt": No such file or directory'),
]


@pytest.mark.parametrize("label,text,expected", ERRORS, ids=[e[0] for e in ERRORS])
def test_bad_config_gives_one_line(tmp_path, label, text, expected):
    """When a config file has a problem, load_config raises one line: file, dotted key, problem."""
    assert error_of(tmp_path, text) == expected


@pytest.mark.parametrize("text,fragment", [
    ("node = 3\n" + MINIMAL, "node: expected a table, got 3"),
    (MINIMAL + '[metrics]\nlisten = "9775"\n', "metrics.listen: expected a Twisted endpoint string"),
    (MINIMAL + '[[accounts]]\nsystem_id = "a"\npassword_hash = "secret"\n', "accounts[0].password_hash: expected an scrypt hash"),
    (MINIMAL + f'[[accounts]]\nsystem_id = "a"\npassword_hash = "{HASH}"\nip_allowlist = ["10.0.0.0/33"]\n',
     'accounts[0].ip_allowlist: "10.0.0.0/33" is not an IP address or network'),
    (MINIMAL + f'[[accounts]]\nsystem_id = "{"a" * 16}"\npassword_hash = "{HASH}"\n', "accounts[0].system_id: expected 1 to 15"),
    (MINIMAL + '[node]\nname_file = "n"\n', 'unknown key "node.name_file"'),
    ("[database\n", "invalid TOML: "),
])
def test_error_wording(tmp_path, text, fragment):
    """When the problem comes from a check function or the TOML parser, the line still starts with the key."""
    assert error_of(tmp_path, text).startswith(fragment)


def test_missing_file(tmp_path):
    """When the file does not exist, the error names it and says why."""
    path = str(tmp_path / "absent.toml")
    with pytest.raises(ConfigError, match=r"absent.toml: cannot read: No such file or directory$"):
        load_config(path)


def test_defaults_fill_in(tmp_path):
    """When only the required key is given, every section gets its documented defaults."""
    config = load_config(write(tmp_path, MINIMAL))
    assert config.database.url == "sqlite:///var/smsc.db"
    assert config.smpp_server.listen == "tcp:2775:interface=127.0.0.1"
    assert config.smpp_server.window == 100
    assert config.metrics.listen == "tcp:9775:interface=127.0.0.1"
    assert config.intake.default_validity == 48 * 3600
    assert config.accounts == ()
    assert config.path.endswith("x.toml")


def test_values_are_converted(tmp_path):
    """When values are given, ints stay ints, ints become floats where a number is expected, durations parse."""
    config = load_config(write(tmp_path, MINIMAL + '[smpp_server]\nresponse_timeout = 5\ninactivity_timeout = "5m"\n'
                               'bind_timeout = "1500ms"\n[intake]\ndefault_validity = "2d"\n'
                               f'[[accounts]]\nsystem_id = "a"\npassword_hash = "{HASH}"\nthroughput = 10\n'
                               'allowed_sources = ["A", "44*"]\n'))
    assert config.smpp_server.response_timeout == 5.0 and isinstance(config.smpp_server.response_timeout, float)
    assert config.smpp_server.inactivity_timeout == 300.0
    assert config.smpp_server.bind_timeout == 1.5
    assert config.intake.default_validity == 172800.0
    assert config.accounts[0].throughput == 10.0
    assert config.accounts[0].allowed_sources == ("A", "44*")


def test_config_is_frozen(tmp_path):
    """When code tries to change a loaded config, it cannot."""
    config = load_config(write(tmp_path, MINIMAL))
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.node.id = 5  # type: ignore[misc]


def test_secret_from_file(tmp_path):
    """When a secret is given as *_file, the value is the file's content (relative to the config's directory)."""
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "db").write_text("postgresql+psycopg2://smsc:s3cret@db/smsc\n")
    (tmp_path / "secrets" / "hash").write_text(HASH + "\n")
    config = load_config(write(tmp_path, '[database]\nurl_file = "secrets/db"\n'
                               '[[accounts]]\nsystem_id = "a"\npassword_hash_file = "secrets/hash"\n'))
    assert config.database.url == "postgresql+psycopg2://smsc:s3cret@db/smsc"
    assert config.accounts[0].password_hash == HASH


def test_show_masks_secrets(tmp_path):
    """When the effective config is rendered, the DB password and password hashes are masked and it parses back."""
    import tomllib

    text = '[database]\nurl = "postgresql+psycopg2://smsc:s3cret@db/smsc"\n' \
           f'[[accounts]]\nsystem_id = "a"\npassword_hash = "{HASH}"\n'
    shown = render_toml(load_config(write(tmp_path, text)))
    assert "s3cret" not in shown and HASH not in shown
    assert "smsc:***@db" in shown
    data = tomllib.loads(shown)
    assert data["accounts"][0]["password_hash"] == "***"
    assert data["smpp_server"]["window"] == 100


def test_show_unmasked_round_trips(tmp_path):
    """When rendered without masking, the TOML loads back into an equal config."""
    config = load_config(write(tmp_path, MINIMAL + f'[[accounts]]\nsystem_id = "a"\npassword_hash = "{HASH}"\n'))
    import tomllib

    again = parse_config(tomllib.loads(render_toml(config, mask=False)), config.path)
    assert again == config


def test_reference_lists_every_key():
    """When the reference is generated, every key of every section appears, with defaults and docs."""
    text = reference_markdown()
    hints = typing.get_type_hints(Config)
    for f in dataclasses.fields(Config):
        if f.metadata.get("internal"):
            continue
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            title, section_type = f"[{f.name}]", tp
        else:
            title, section_type = f"[[{f.name}]]", typing.get_args(tp)[0]
        assert f"### `{title}`" in text
        sub_hints = typing.get_type_hints(section_type)
        for sub in dataclasses.fields(section_type):
            sub_tp = sub_hints[sub.name]
            item = typing.get_args(sub_tp)[0] if typing.get_origin(sub_tp) is tuple else None
            if dataclasses.is_dataclass(sub_tp):  # a nested table has its own heading
                assert f"### `[{f.name}.{sub.name}]`" in text
            elif item is not None and dataclasses.is_dataclass(item):
                assert f"### `[[{f.name}.{sub.name}]]`" in text
            else:
                assert f"| `{sub.name}`" in text
            assert sub.metadata["doc"], f"{f.name}.{sub.name} has no doc"
    assert "**required**" in text
    assert '`"tcp:9775:interface=127.0.0.1"`' in text


@pytest.mark.parametrize("text,seconds", [("500ms", 0.5), ("30s", 30), ("5m", 300), ("2h", 7200), ("1d", 86400), ("1.5h", 5400)])
def test_parse_duration(text, seconds):
    """When a duration has a unit, it is converted to seconds."""
    assert parse_duration(text) == seconds


@dataclasses.dataclass(frozen=True, kw_only=True)
class _Peer:
    """A section shaped like the ones other modules will add ([[upstreams]])."""

    name: str = dataclasses.field(metadata={"doc": "name"})
    port: typing.Optional[int] = dataclasses.field(default=None, metadata={"doc": "port", "min": 1, "max": 65535})
    mode: typing.Literal["a", "b"] = dataclasses.field(default="a", metadata={"doc": "mode"})


@dataclasses.dataclass(frozen=True, kw_only=True)
class _Root:
    peers: list[_Peer] = dataclasses.field(default_factory=list, metadata={"doc": "peers", "unique": "name"})


def test_generic_validator_optional_list_literal():
    """When a new section uses Optional, list[Dataclass] and Literal, build() validates it the same way."""
    from smsc.config import build

    root = build(_Root, {"peers": [{"name": "x", "port": 2775}, {"name": "y", "mode": "b"}]}, "p.toml")
    assert root.peers == [_Peer(name="x", port=2775), _Peer(name="y", mode="b")]
    assert root.peers[1].port is None
    for data, message in [
        ({"peers": [{"name": "x", "port": 0}]}, "p.toml: peers[0].port: must be between 1 and 65535, got 0"),
        ({"peers": [{"name": "x", "mode": "c"}]}, 'p.toml: peers[0].mode: expected one of "a", "b", got "c"'),
        ({"peers": [{"name": "x"}, {"name": "x"}]}, 'p.toml: peers[1].name: duplicate name "x"'),
        ({"peers": [{}]}, 'p.toml: missing required value "peers[0].name"'),
        ({"peers": [3]}, "p.toml: peers[0]: expected a table, got 3"),
    ]:
        with pytest.raises(ConfigError) as info:
            build(_Root, data, "p.toml")
        assert str(info.value) == message
