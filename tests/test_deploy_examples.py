"""The deployment examples stay true to the code: the systemd unit and the Dockerfile in ``examples/``.

No service manager or container engine runs here: the unit is read as the INI file it is, the Dockerfile
line by line, and each command line they start is parsed by ``fixgw``'s own argument parser.
"""

from __future__ import annotations

import argparse
import configparser
import json
import re
import shlex
import tomllib
from pathlib import Path

import pytest

from fixgw.cli import build_parser
from fixgw.config import DEFAULT_PORT, GatewayConfig
from fixgw.gateway import DEFAULT_SHUTDOWN_TIMEOUT

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "examples" / "fixgw.service"
DOCKERFILE = ROOT / "examples" / "Dockerfile"


def parse_fixgw_args(argv: list[str]) -> argparse.Namespace:
    """Parse ``fixgw`` arguments as the real command line does, without requiring files to exist."""
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                for option in sub._actions:
                    if "--config" in option.option_strings:
                        option.type = Path  # the real type also checks that the file is there
    try:
        return parser.parse_args(argv)
    except SystemExit as exc:  # a usage error
        raise AssertionError(f"fixgw does not accept {argv}") from exc


def console_script() -> str:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert scripts.get("fixgw") == "fixgw.cli:main"
    return "fixgw"


def seconds(value: str) -> float:
    """A systemd time span in its plain forms: ``30``, ``30s``, ``1min``, ``1min 30s``."""
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)\s*(min|s|)", value):
        total += float(number) * (60 if unit == "min" else 1)
    return total


# -- the systemd unit ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True, empty_lines_in_values=False)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string(UNIT.read_text(encoding="utf-8"), source=str(UNIT))
    return parser


def test_deploy_unit_parses_as_ini_with_its_three_sections(unit: configparser.ConfigParser) -> None:
    assert unit.sections() == ["Unit", "Service", "Install"]
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_deploy_unit_runs_a_real_fixgw_command_line(unit: configparser.ConfigParser) -> None:
    argv = shlex.split(unit["Service"]["ExecStart"])
    assert Path(argv[0]).name == console_script()
    args = parse_fixgw_args(argv[1:])
    assert args.command == "run"
    assert args.config is not None, "a service runs a configured gateway, not the demo"


def test_deploy_unit_runs_as_a_dedicated_user_with_secrets_from_a_file(unit: configparser.ConfigParser) -> None:
    service = unit["Service"]
    assert service["User"] not in ("", "root", "0")
    assert service["EnvironmentFile"].lstrip("-").startswith("/")


def test_deploy_unit_stops_gracefully_within_its_timeout(unit: configparser.ConfigParser) -> None:
    service = unit["Service"]
    assert service["KillSignal"] == "SIGTERM"
    assert service["Restart"] == "on-failure"
    assert "2" in service["RestartPreventExitStatus"].split()  # a configuration error is not retried
    # The graceful stop waits DEFAULT_SHUTDOWN_TIMEOUT for the Logout answers, then closes venues and store.
    assert seconds(service["TimeoutStopSec"]) >= DEFAULT_SHUTDOWN_TIMEOUT + 10


def test_deploy_unit_is_hardened(unit: configparser.ConfigParser) -> None:
    service = unit["Service"]
    for key, value in {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
                       "PrivateTmp": "yes", "RestrictSUIDSGID": "yes", "CapabilityBoundingSet": ""}.items():
        assert service.get(key) == value, key
    assert service["StateDirectory"] == "fixgw"


# -- the Dockerfile ------------------------------------------------------------------------------


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        line = pending + line
        pending = ""
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    assert not pending, "a continuation line ends the file"
    return out


@pytest.fixture(scope="module")
def final_stage() -> list[tuple[str, str]]:
    steps = dockerfile_instructions(DOCKERFILE.read_text(encoding="utf-8"))
    last_from = max(i for i, (op, _) in enumerate(steps) if op == "FROM")
    return steps[last_from:]


def test_deploy_dockerfile_cmd_is_a_real_fixgw_command_line(final_stage: list[tuple[str, str]]) -> None:
    cmds = [args for op, args in final_stage if op == "CMD"]
    assert len(cmds) == 1
    argv = json.loads(cmds[0])  # exec form: SIGTERM reaches fixgw itself, not a shell
    assert argv[0] == console_script()
    args = parse_fixgw_args(argv[1:])
    assert args.command == "run"
    assert str(args.config) == "/etc/fixgw/gateway.toml"


def test_deploy_dockerfile_runs_slim_and_non_root(final_stage: list[tuple[str, str]]) -> None:
    image = final_stage[0][1].split()[0]
    assert re.fullmatch(r"python:3\.1[1-9]-slim", image), image
    users = [args for op, args in final_stage if op == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert ("STOPSIGNAL", "SIGTERM") in final_stage


def test_deploy_dockerfile_installs_the_checkout_and_exposes_the_ports(final_stage: list[tuple[str, str]]) -> None:
    steps = dockerfile_instructions(DOCKERFILE.read_text(encoding="utf-8"))
    copies = " ".join(args for op, args in steps if op == "COPY")
    for part in ("pyproject.toml", "setup.py", "fixgw", "fixgw_ext", "specs"):
        assert part in copies, part
    exposed = {int(p.split("/")[0]) for op, args in final_stage if op == "EXPOSE" for p in args.split()}
    bridge_port = getattr(__import__("fixgw.config", fromlist=["x"]), "DEFAULT_BRIDGE_PORT", 9880)
    assert {DEFAULT_PORT, bridge_port} <= exposed
    volumes = " ".join(args for op, args in final_stage if op == "VOLUME")
    assert "/var/lib/fixgw" in volumes
    assert GatewayConfig().port == DEFAULT_PORT


def test_deploy_dockerfile_reader_joins_continuations() -> None:
    text = "# c\nFROM x AS b\nRUN a \\\n    && b\n# mid\nCMD [\"fixgw\"]\n"
    assert dockerfile_instructions(text) == [("FROM", "x AS b"), ("RUN", "a && b"), ("CMD", '["fixgw"]')]
