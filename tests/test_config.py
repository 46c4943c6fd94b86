"""Configuration: explicit, read when asked, never cached; root and user name lookup."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tideflow._config import (
    ROOT_DIRNAME,
    Config,
    find_root,
    load_config,
    locate_root,
    resolve_username,
    store_settings,
)
from tideflow._exceptions import TideflowError


def test_environment_is_read_when_asked() -> None:
    """load_config reads the mapping it is given, not os.environ at import."""
    config = load_config({"TIDEFLOW_ROOT": "/x/store", "TIDEFLOW_USER": "ana"})
    assert config.root == "/x/store"
    assert config.username == "ana"
    assert load_config({}).root is None


def test_executor_and_dask_address_from_environment() -> None:
    """TIDEFLOW_EXECUTOR and TIDEFLOW_DASK_ADDRESS choose the executor and its scheduler."""
    env = {"TIDEFLOW_EXECUTOR": "dask", "TIDEFLOW_DASK_ADDRESS": "tcp://127.0.0.1:8786"}
    config = load_config(env)
    assert (config.executor, config.dask_address) == ("dask", "tcp://127.0.0.1:8786")
    assert load_config(env, dask_address="tcp://other:1").dask_address == "tcp://other:1"
    assert load_config({}).dask_address is None


def test_overrides_win_over_environment() -> None:
    """Explicit settings take precedence; None means "not given"."""
    config = load_config({"TIDEFLOW_ROOT": "/a"}, root="/b", username=None)
    assert config.root == "/b"
    assert config.username is None


def test_configured_root_is_the_store_folder_itself(tmp_path: Path) -> None:
    """A configured root names the store folder; nothing is appended."""
    assert find_root(Config(root=str(tmp_path / "store"))) == tmp_path / "store"


def test_root_is_found_in_a_parent(tmp_path: Path) -> None:
    """The nearest .tideflow folder in the working directory or a parent is used."""
    (tmp_path / ROOT_DIRNAME).mkdir()
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    assert find_root(Config(), nested) == tmp_path / ROOT_DIRNAME


def test_root_defaults_to_the_working_directory(tmp_path: Path) -> None:
    """Without a store anywhere up the tree, the store goes in the working directory."""
    assert find_root(Config(), tmp_path) == tmp_path / ROOT_DIRNAME


def test_root_is_not_cached(tmp_path: Path) -> None:
    """A store created after a first lookup is found by the next one."""
    nested = tmp_path / "n"
    nested.mkdir()
    assert find_root(Config(), nested) == nested / ROOT_DIRNAME
    (tmp_path / ROOT_DIRNAME).mkdir()
    assert find_root(Config(), nested) == tmp_path / ROOT_DIRNAME


@pytest.mark.parametrize("variable", ["TIDEFLOW_USER", "USER", "LOGNAME", "USERNAME"])
def test_user_name_from_environment(variable: str) -> None:
    """The user name comes from the first variable set, in the documented order."""
    assert resolve_username(Config(), {variable: "someone"}) == "someone"


def test_user_name_precedence() -> None:
    """Configuration beats TIDEFLOW_USER, which beats USER."""
    env = {"TIDEFLOW_USER": "tf", "USER": "unix"}
    assert resolve_username(Config(), env) == "tf"
    assert resolve_username(Config(username="cfg"), env) == "cfg"


def test_root_is_an_ordinary_user() -> None:
    """'root' is accepted like any other name."""
    assert resolve_username(Config(), {"USER": "root"}) == "root"


def test_user_name_falls_back_to_the_account_database() -> None:
    """With no variable set, the account of the process is used."""
    import pwd

    assert resolve_username(Config(), {}) == pwd.getpwuid(os.getuid()).pw_name


def test_user_name_error_says_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    """When no source gives a name, the error says which variable to set."""
    import pwd

    def missing(uid: int) -> object:
        raise KeyError(uid)

    monkeypatch.setattr(pwd, "getpwuid", missing)
    with pytest.raises(TideflowError, match=r"^Cannot tell who is running this flow: set "):
        resolve_username(Config(), {})


def test_host_idle_timeout_from_the_environment() -> None:
    """Fork hosts stay warm 2 s by default; TIDEFLOW_HOST_IDLE_TIMEOUT sets it, 0 included."""
    assert load_config({}).host_idle_timeout == 2.0
    assert load_config({"TIDEFLOW_HOST_IDLE_TIMEOUT": "0"}).host_idle_timeout == 0.0
    with pytest.raises(TideflowError, match=r"^TIDEFLOW_HOST_IDLE_TIMEOUT must be a number"):
        load_config({"TIDEFLOW_HOST_IDLE_TIMEOUT": "soon"})
    with pytest.raises(ValueError, match=r"^host_idle_timeout must be a number of seconds >= 0"):
        load_config({}, host_idle_timeout=-1)


def test_store_settings_are_the_ones_load_config_reads() -> None:
    env = {
        "TIDEFLOW_ROOT": "/r",
        "TIDEFLOW_METADATA_URL": "sqlite:///m.db",
        "TIDEFLOW_DATASTORE_URL": "",
        "TIDEFLOW_USER": "u",
    }
    config = load_config(env)
    assert store_settings(env) == (config.root, config.metadata_url, config.datastore_url)
    assert store_settings(env) == ("/r", "sqlite:///m.db", None)
    assert store_settings({}) == (None, None, None)


def test_locate_root_is_find_root_of_a_root_setting(tmp_path: Path) -> None:
    (tmp_path / ROOT_DIRNAME).mkdir()
    (tmp_path / "sub").mkdir()
    assert locate_root(None, tmp_path / "sub") == find_root(Config(), tmp_path / "sub")
    assert locate_root(None, tmp_path / "sub") == tmp_path / ROOT_DIRNAME
    assert locate_root("~/x") == find_root(Config(root="~/x")) == Path.home() / "x"


def test_resolve_username_asks_the_account_last() -> None:
    assert resolve_username(None, {}, account=lambda: "acct") == "acct"
    assert resolve_username(None, {"USER": "u"}, account=lambda: "acct") == "u"
    with pytest.raises(TideflowError, match=r"^Cannot tell who is running this flow"):
        resolve_username(None, {}, account=lambda: None)
