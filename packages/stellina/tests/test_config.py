from __future__ import annotations

import os
from pathlib import Path

import pytest

from stellina.config import Config, Environ, EnvironError, undefined
from stellina.datastructures import CommaSeparatedStrings, Secret


def write_env(tmp_path: Path, text: str) -> Path:
    path = tmp_path / ".env"
    path.write_text(text)
    return path


def test_env_file_values_quotes_and_comments(tmp_path: Path) -> None:
    path = write_env(
        tmp_path,
        "# a comment\n"
        "DATABASE_URL=postgres://user:pass@localhost/db\n"
        "REQUEST_TIMEOUT = 10\n"
        'QUOTED="hello world"\n'
        "SINGLE='single'\n"
        "EMPTY=\n"
        "not a setting\n"
        "#COMMENTED=1\n"
        "EQUALS=a=b\n",
    )
    config = Config(path, environ={})
    assert config("DATABASE_URL") == "postgres://user:pass@localhost/db"
    assert config("REQUEST_TIMEOUT", cast=int) == 10
    assert config("QUOTED") == "hello world"
    assert config("SINGLE") == "single"
    assert config("EMPTY") == ""
    assert config("EQUALS") == "a=b"
    with pytest.raises(KeyError, match="Config 'COMMENTED' is missing, and has no default."):
        config("COMMENTED")


def test_environ_overrides_file(tmp_path: Path) -> None:
    path = write_env(tmp_path, "DEBUG=false\n")
    config = Config(path, environ={"DEBUG": "true"})
    assert config("DEBUG", cast=bool) is True


def test_defaults_and_casts() -> None:
    config = Config(environ={"PORT": "8000", "HOSTS": "a, b,c", "KEY": "s3cr3t"})
    assert config("PORT", cast=int) == 8000
    assert config("MISSING", default=None) is None
    assert config("MISSING", cast=int, default="5") == 5
    assert config("MISSING", cast=int, default=None) is None
    assert config("MISSING", default=1) == 1
    assert config("MISSING", default="x") == "x"
    assert list(config("HOSTS", cast=CommaSeparatedStrings)) == ["a", "b", "c"]
    secret = config("KEY", cast=Secret)
    assert str(secret) == "s3cr3t"
    assert "s3cr3t" not in repr(secret)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("true", True), ("True", True), ("1", True), ("false", False), ("FALSE", False), ("0", False)],
)
def test_bool_strings(raw: str, expected: bool) -> None:
    assert Config(environ={"FLAG": raw})("FLAG", cast=bool) is expected


def test_bool_default_not_a_string() -> None:
    assert Config(environ={})("FLAG", cast=bool, default=False) is False


def test_cast_errors_name_key_and_value() -> None:
    config = Config(environ={"FLAG": "maybe", "PORT": "eighty"})
    with pytest.raises(ValueError, match="Config 'FLAG' has value 'maybe'. Not a valid bool."):
        config("FLAG", cast=bool)
    with pytest.raises(ValueError, match="Config 'PORT' has value 'eighty'. Not a valid int."):
        config("PORT", cast=int)


def test_missing_key_message() -> None:
    with pytest.raises(KeyError, match="Config 'NOPE' is missing, and has no default."):
        Config(environ={})("NOPE")


def test_env_prefix() -> None:
    config = Config(environ={"APP_DEBUG": "1"}, env_prefix="APP_")
    assert config("DEBUG", cast=bool) is True
    with pytest.raises(KeyError, match="Config 'APP_OTHER' is missing"):
        config("OTHER")


def test_missing_env_file_warns(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match=r"Config file '.*missing\.env' not found\."):
        config = Config(tmp_path / "missing.env", environ={})
    assert config("X", default="y") == "y"


def test_encoding(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_bytes("NAME=caf\xe9\n".encode("latin-1"))
    assert Config(path, environ={}, encoding="latin-1")("NAME") == "caf\xe9"


def test_get_is_call() -> None:
    config = Config(environ={"A": "1"})
    assert config.get("A", int) == 1
    assert config.get("B", default="d") == "d"
    assert config.get("B", default=None) is None
    with pytest.raises(KeyError):
        config.get("B", default=undefined)


def test_environ_refuses_changes_after_read() -> None:
    backing: dict[str, str] = {"READ": "1"}
    env = Environ(backing)
    env["NEW"] = "2"
    del env["NEW"]
    assert env["READ"] == "1"
    with pytest.raises(
        EnvironError, match=r"Attempting to set environ\['READ'\], but the value has already been"
    ):
        env["READ"] = "3"
    with pytest.raises(
        EnvironError,
        match=r"Attempting to delete environ\['READ'\], but the value has already been read.",
    ):
        del env["READ"]
    assert list(env) == ["READ"]
    assert len(env) == 1


def test_default_environ_is_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STELLINA_CONFIG_TEST", "yes")
    assert Config()("STELLINA_CONFIG_TEST") == "yes"
    assert os.environ["STELLINA_CONFIG_TEST"] == "yes"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("'a \"b\"'", 'a "b"'),
        ('"it\'s"', "it's"),
        ("\"unmatched'", "\"unmatched'"),
        ('"', '"'),
        ("''", ""),
        ('""x""', '"x"'),
        ("plain", "plain"),
    ],
)
def test_only_one_matching_pair_of_quotes_is_removed(
    tmp_path: Path, raw: str, expected: str
) -> None:
    env = tmp_path / ".env"
    env.write_text(f"KEY = {raw}\n")
    assert Config(env, environ={}).get("KEY") == expected
