"""@secrets: the local providers, the plug-in lookup, and secrets in a running step."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from executors import executor
from feature_runs import run_flow
from tideflow._exceptions import SecretsError
from tideflow._flow._secrets import (
    EnvSecretsProvider,
    FileSecretsProvider,
    SecretsProvider,
    fetch_secrets,
)

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ("executor",)


def test_env_provider_strips_the_prefix() -> None:
    env = {"APP_A": "1", "APP_B": "2", "OTHER": "3"}
    assert EnvSecretsProvider(env).get_secret_as_dict("APP_", {}) == {"A": "1", "B": "2"}
    with pytest.raises(SecretsError, match=r"^@secrets: no environment variable starts with"):
        EnvSecretsProvider(env).get_secret_as_dict("NONE_", {})
    assert isinstance(EnvSecretsProvider(), SecretsProvider)


def test_file_provider_reads_json_and_dotenv(tmp_path: Path) -> None:
    (tmp_path / "s.json").write_text(json.dumps({"USER": "u", "PORT": 5432}))
    (tmp_path / "s.env").write_text("# comment\nexport USER='u2'\nPASS=\"p w\"\n")
    provider = FileSecretsProvider()
    assert provider.get_secret_as_dict(str(tmp_path / "s.json"), {}) == {
        "USER": "u",
        "PORT": "5432",
    }
    assert provider.get_secret_as_dict(str(tmp_path / "s.env"), {}) == {
        "USER": "u2",
        "PASS": "p w",
    }
    (tmp_path / "bad.env").write_text("no equals sign\n")
    with pytest.raises(SecretsError, match=r"^@secrets: line 1 of .*bad\.env is not KEY=VALUE"):
        provider.get_secret_as_dict(str(tmp_path / "bad.env"), {})


def test_fetch_checks_names_sources_and_conflicts(tmp_path: Path) -> None:
    (tmp_path / "s.json").write_text(json.dumps({"A": "from file", "bad-name": "x"}))
    env = {"P_A": "from env"}
    with pytest.raises(SecretsError, match=r"^@secrets: the variable A comes from two sources"):
        fetch_secrets(["env:P_", {"type": "file", "id": str(tmp_path / "s.json")}], None, env)
    (tmp_path / "s.json").write_text(json.dumps({"bad-name": "x"}))
    with pytest.raises(SecretsError, match=r"gives the key 'bad-name', which is not a valid"):
        fetch_secrets([f"file:{tmp_path / 's.json'}"], None, env)
    with pytest.raises(SecretsError, match=r"^@secrets: the source 'vault-id' names no provider"):
        fetch_secrets(["vault-id"], None, env)
    with pytest.raises(SecretsError, match=r"^@secrets: no secrets provider of type 'vault'"):
        fetch_secrets([{"type": "vault", "id": "x"}], None, env)
    assert fetch_secrets(
        ["P_"], None, {**env, "TIDEFLOW_DEFAULT_SECRETS_BACKEND_TYPE": "env"}
    ) == {"A": "from env"}


async def test_secrets_reach_the_step(tideflow_root: Path, executor: str) -> None:
    """The step with @secrets sees them as environment variables; other steps do not, and
    they are stored nowhere."""
    folder = tideflow_root.parent
    (folder / "db_secrets.json").write_text(json.dumps({"DB_USER": "admin"}))
    running = await run_flow(folder, "secrets_flow.py", env={"APP_SECRET_TOKEN": "t0ps3cret"})
    assert running.status == "successful", running.stderr
    run = running.run
    assert run["start"].task.data.token_length == 9
    assert run["start"].task.data.db_user == "admin"
    assert run["end"].task.data.end_has_token is False
    assert "t0ps3cret" not in running.stdout + running.stderr


async def test_a_missing_secret_fails_the_task(tideflow_root: Path) -> None:
    folder = tideflow_root.parent
    running = await run_flow(folder, "secrets_flow.py")
    assert running.status == "failed"
    assert "SecretsError: @secrets: no environment variable starts with 'APP_SECRET_'" in (
        running.stderr
    )
