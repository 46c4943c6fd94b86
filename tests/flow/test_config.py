"""Config and config_expr: reading the value, using it in steps and decorators, storing it."""

from __future__ import annotations

import json
import pickle
from typing import TYPE_CHECKING, Any

import pytest

from executors import executor
from feature_runs import copy_flow, run_flow
from tideflow import Config, FlowSpec, Runner, config_expr, step
from tideflow._exceptions import DecoratorError, ParameterError
from tideflow._flow._config import ConfigValue, DelayedValue, resolve_configs
from tideflow._flow._decorators import make_decorator, resolve_decorator

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ("executor",)

SETTINGS = {"timeout": 60, "alpha": 3, "db": {"host": "db.local", "port": 5432}}


# -- the value ------------------------------------------------------------------------


def test_config_value_reads_like_attributes_and_items() -> None:
    value = ConfigValue({"db": {"host": "h", "ports": [1, {"x": 2}]}, "n": 1})
    assert value.db.host == value["db"]["host"] == "h"
    assert value.db.ports[1].x == 2
    assert dict(value) == {"db": {"host": "h", "ports": [1, {"x": 2}]}, "n": 1}
    assert value == {"db": {"host": "h", "ports": [1, {"x": 2}]}, "n": 1}
    assert value.to_dict()["db"] is not value.to_dict()["db"]
    assert pickle.loads(pickle.dumps(value)) == value


def test_config_value_is_read_only() -> None:
    value = ConfigValue({"a": {"b": 1}})
    with pytest.raises(TypeError, match=r"^A configuration is read-only: cannot set 'a'\.$"):
        value.a = 2
    with pytest.raises(TypeError, match=r"read-only: cannot set 'b'"):
        value.a["b"] = 2  # type: ignore[index]
    with pytest.raises(AttributeError, match=r"^The configuration has no key 'c'; its keys are"):
        value.c  # noqa: B018


def test_resolution_order(tmp_path: Path) -> None:
    """A given file or value wins; then the default file if it exists; then default_value."""
    (tmp_path / "given.json").write_text('{"from": "given"}')
    (tmp_path / "default.json").write_text('{"from": "default file"}')
    configs = {
        "cfg": Config("cfg", default="default.json", default_value={"from": "default value"}),
        "other": Config("other", default="missing.json", default_value='{"from": "text"}'),
        "none": Config("none"),
    }
    found = resolve_configs(configs, cwd=str(tmp_path))
    assert found == {"cfg": {"from": "default file"}, "other": {"from": "text"}, "none": None}
    found = resolve_configs(
        configs, files={"cfg": "given.json"}, values=[("other", {"x": 1})], cwd=str(tmp_path)
    )
    assert found["cfg"] == {"from": "given"} and found["other"] == {"x": 1}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"files": {"nope": "x.json"}}, r"^Unknown configuration 'nope': the flow's are cfg\.$"),
        (
            {"files": {"cfg": "a.json"}, "values": {"cfg": {}}},
            r"^Config 'cfg' was given both a file and a value: give one\.$",
        ),
        ({"files": {"cfg": "missing.json"}}, r"^Config 'cfg': cannot read the file .*missing"),
        ({"values": {"cfg": "{not json"}}, r"^Config 'cfg': cannot parse the value given: "),
        ({"values": {"cfg": "[1, 2]"}}, r"^Config 'cfg': the value given holds a list, not a"),
        ({}, r"^Config 'cfg' is required: pass --config cfg PATH or --config-value cfg JSON"),
    ],
)
def test_bad_values_are_refused(tmp_path: Path, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        resolve_configs({"cfg": Config("cfg", required=True)}, cwd=str(tmp_path), **kwargs)


def test_a_parser_reads_other_formats(tmp_path: Path) -> None:
    def key_values(text: str) -> dict[str, str]:
        return dict(line.split("=", 1) for line in text.splitlines() if line)

    (tmp_path / "settings.env").write_text("A=1\nB=two\n")
    configs = {
        "cfg": Config("cfg", default="settings.env", parser=key_values),
        "named": Config("named", default_value="{}", parser="json.loads"),
    }
    assert resolve_configs(configs, cwd=str(tmp_path)) == {
        "cfg": {"A": "1", "B": "two"},
        "named": {},
    }
    with pytest.raises(ParameterError, match=r"^Config 'bad': parser 'no_such\.parse' cannot be"):
        Config("bad", parser="no_such.parse").parse("{}", "text")


def test_config_declaration_errors() -> None:
    with pytest.raises(ParameterError, match=r"^A Config needs a non-empty name"):
        Config("")
    with pytest.raises(ParameterError, match=r"^Config 'c' got unknown argument\(s\): typo\."):
        Config("c", typo=1)
    with pytest.raises(ParameterError, match=r"^config_expr takes an expression as text"):
        config_expr("")


# -- delayed values in decorators -------------------------------------------------------


def test_decorator_arguments_wait_for_the_configs() -> None:
    cfg = Config("cfg")
    delayed = make_decorator("timeout", {"seconds": cfg.limits.seconds})
    assert isinstance(delayed.attributes["seconds"], DelayedValue)
    scope = {"cfg": ConfigValue({"limits": {"seconds": 5}})}
    assert resolve_decorator(delayed, scope).attributes["seconds"] == 5
    expr = make_decorator("retry", {"times": config_expr("cfg.limits.seconds - 3")})
    assert resolve_decorator(expr, scope).attributes["times"] == 2
    negative = make_decorator("retry", {"times": config_expr("-cfg.limits.seconds")})
    with pytest.raises(DecoratorError, match=r"^@retry: times must be a whole number >= 0"):
        resolve_decorator(negative, scope)
    missing = make_decorator("retry", {"times": cfg.nope})
    with pytest.raises(
        DecoratorError, match=r"^@retry: Cannot evaluate config_expr\('cfg\.nope'\)"
    ):
        resolve_decorator(missing, scope)


# -- runs -----------------------------------------------------------------------------


async def test_configs_in_steps_and_decorators(tideflow_root: Path, executor: str) -> None:
    """The config file is read at run start; steps, decorators and a parameter default see
    it; it is read-only; and it is stored with the run as an artifact."""
    folder = tideflow_root.parent
    (folder / "config.json").write_text(json.dumps(SETTINGS))
    running = await run_flow(folder, "config_flow.py")
    assert running.status == "successful", running.stderr
    run = running.run
    data = run["start"].task.data
    assert data.host == data.host_by_key == data.seen_env == "db.local"
    assert data.workers == 2
    assert data.as_dict == SETTINGS
    assert data.alpha == 6
    assert data.names == ["alpha"]
    assert data.assign_error.startswith("Config 'config' is read-only")
    assert data.item_error == "A configuration is read-only: cannot set 'host'."
    assert run["end"].task.data.end_host == "db.local"
    assert run.data.config == SETTINGS
    assert run.data.limits == {"workers": 2, "tries": 1}
    decorators = json.loads(run["start"].task.metadata_dict["step-decorators"])
    assert "timeout:seconds=60,minutes=0,hours=0" in decorators
    assert "retry:times=2,minutes_between_retries=0" in decorators


async def test_config_options_of_the_runner(tideflow_root: Path) -> None:
    """Runner(config=...) reads another file; config_value gives the value itself."""
    folder = tideflow_root.parent
    (folder / "other.json").write_text(json.dumps({**SETTINGS, "db": {"host": "other"}}))
    running = await run_flow(folder, "config_flow.py", top={"config": {"config": "other.json"}})
    assert running.status == "successful", running.stderr
    assert running.run.data.end_host == "other"
    value = {**SETTINGS, "db": {"host": "given"}, "alpha": 10}
    running = await run_flow(
        folder, "config_flow.py", top={"config_value": [("config", json.dumps(value))]}
    )
    assert running.run.data.end_host == "given"
    assert running.run.data.alpha == 20


async def test_missing_config_file_fails_before_the_run(tideflow_root: Path) -> None:
    folder = tideflow_root.parent
    path = copy_flow(folder, "config_flow.py")
    with pytest.raises(ParameterError, match=r"^Config 'config': cannot read the file .*nope"):
        await Runner(str(path), config={"config": "nope.json"}).async_run()
    with pytest.raises(ParameterError, match=r"^Unknown configuration 'cfg': the flow's are"):
        await Runner(str(path), config_value={"cfg": {}}).async_run()
    assert not (tideflow_root / "metadata.db").exists()


async def test_resume_keeps_the_origin_configs(tideflow_root: Path) -> None:
    """A resume runs with the configuration of the run it resumes, not today's file."""
    folder = tideflow_root.parent
    (folder / "config.json").write_text(json.dumps(SETTINGS))
    first = await run_flow(folder, "config_flow.py")
    assert first.status == "successful"
    (folder / "config.json").write_text(json.dumps({**SETTINGS, "db": {"host": "changed"}}))
    runner = Runner(str(folder / "config_flow.py"), show_output=False)
    resumed = await runner.async_resume(origin_run_id=first.run.id, step_to_rerun="end")
    await resumed.wait()
    assert resumed.status == "successful", resumed.stderr
    assert resumed.run.data.end_host == "db.local"


def test_command_line_options(tideflow_root: Path) -> None:
    """``--config NAME PATH`` and ``--config-value NAME JSON`` before the command, on the
    flow's command line and on ``tideflow run``."""
    import subprocess
    import sys

    folder = tideflow_root.parent
    path = copy_flow(folder, "config_flow.py")
    (folder / "cli.json").write_text(json.dumps({**SETTINGS, "db": {"host": "from-cli"}}))
    value = json.dumps({**SETTINGS, "db": {"host": "from-value"}})
    commands = [
        [sys.executable, str(path), "--config", "config", "cli.json", "run"],
        [sys.executable, "-m", "tideflow", "run", str(path), "--config-value", "config", value],
    ]
    for command in commands:
        done = subprocess.run(command, cwd=folder, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
    bad = subprocess.run(
        [sys.executable, str(path), "--config-value", "config", "{oops", "run"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2
    assert "error: Config 'config': cannot parse the value given: JSONDecodeError" in bad.stderr
    from tideflow import Flow

    hosts = [run.data.end_host for run in Flow("ConfigFlow", _root=str(tideflow_root))]
    assert sorted(hosts) == ["from-cli", "from-value"]


def test_configs_are_not_class_constants() -> None:
    # Class-level constants become artifacts; a Config (and a config_expr) is not one.
    class ConstFlow(FlowSpec):
        cfg = Config("cfg", default_value={"a": 1})
        expr = config_expr("cfg.a")
        int_const = 123

        @step
        def start(self) -> None:
            self.next(self.end)

        @step
        def end(self) -> None:
            pass

    assert ConstFlow._tf_constants() == {"int_const": 123}
