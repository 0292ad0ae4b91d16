import importlib.util
import os
import pty
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from netns import kernel_available, namespace  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"

_spec = importlib.util.spec_from_file_location(
    "fetch_vectors", ROOT / "tests" / "conformance" / "fetch_vectors.py")
fetch_vectors = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fetch_vectors)


def fwmigrate_cli(*args: str, input: str | None = None, env: dict | None = None,
                  timeout: float = 60) -> subprocess.CompletedProcess:
    """The fwmigrate command as a console user runs it: outside an SSH session (the lockout
    guard reads SSH_CONNECTION), with `env` added to the environment."""
    environ = {k: v for k, v in os.environ.items() if k != "SSH_CONNECTION"}
    environ.update(env or {})
    return subprocess.run([sys.executable, "-m", "fwmigrate", *args], input=input, text=True,
                          capture_output=True, timeout=timeout, env=environ)


@contextmanager
def apply_at_prompt(netns, state: str, source: str):
    """`fwmigrate apply SOURCE --confirm 60` into netns, with a terminal on its standard input
    (the confirmation prompt reads one): yields (process, the terminal's master side) once
    the ruleset is in; the process is killed if the test leaves it running."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "fwmigrate", "apply", source, "--netns",
                             netns.name, "--state-dir", state, "--confirm", "60"],
                            stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    os.close(slave)
    try:
        netns.wait_for_table("fwmigrate")
        yield proc, master
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        os.close(master)


def sample_inputs() -> list[Path]:
    """The samples to translate; a NAME.ipsets file is the --ipsets of NAME.save/.sh."""
    return sorted(p for p in SAMPLES.iterdir() if p.suffix != ".ipsets")


def save_form(program: str, command: str) -> list[str]:
    """The iptables-save lines fwmigrate writes for one `iptables`/`ip6tables` command."""
    from fwmigrate.convert import ConvertOptions, convert
    family = "ip6" if program == "ip6tables" else "ip"
    return convert(f"{program} {command}\n", "fw.sh",
                   ConvertOptions(to="iptables-restore", family=family)).output.splitlines()


def refusal(program: str, command: str, to: str = "iptables-restore") -> list:
    """The diagnostics of one `iptables`/`ip6tables` command that fwmigrate must refuse."""
    from fwmigrate.convert import ConvertOptions, convert
    from fwmigrate.errors import FwmigrateError
    family = "ip6" if program == "ip6tables" else "ip"
    with pytest.raises(FwmigrateError) as info:
        convert(f"{program} {command}\n", "fw.sh", ConvertOptions(to=to, family=family))
    return info.value.diagnostics


def ipsets_of(sample: Path) -> tuple[str, str] | None:
    """ConvertOptions.ipsets for a sample: its companion `ipset save` file, if any."""
    path = sample.with_suffix(".ipsets")
    return (path.read_text(), f"samples/{path.name}") if path.exists() else None


@pytest.fixture
def kernel():
    """Skips the test where namespaces cannot be made (fails under FWMIGRATE_REQUIRE_KERNEL)."""
    reason = kernel_available()
    if reason:
        if os.environ.get("FWMIGRATE_REQUIRE_KERNEL"):
            pytest.fail(f"kernel tests required (FWMIGRATE_REQUIRE_KERNEL) but {reason}")
        pytest.skip(reason)


def iptables_vectors_dir() -> Path:
    """Where the fetched iptables 1.8.9 vectors are. They are not in the repository: a test
    that needs them skips until they are fetched, and fails under FWMIGRATE_REQUIRE_KERNEL (CI,
    whose command fetches them first), as the kernel fixture does."""
    reason = fetch_vectors.problem()
    if reason:
        message = (f"iptables 1.8.9 test vectors not fetched ({reason}); "
                   f"run `{fetch_vectors.COMMAND}`")
        if os.environ.get("FWMIGRATE_REQUIRE_KERNEL"):
            pytest.fail(f"{message} (FWMIGRATE_REQUIRE_KERNEL is set)")
        pytest.skip(message)
    return fetch_vectors.DEST


@pytest.fixture
def iptables_vectors() -> Path:
    return iptables_vectors_dir()


@pytest.fixture
def netns(kernel):
    with namespace() as ns:
        yield ns


@pytest.fixture(scope="session")
def samples_dir():
    return SAMPLES


@pytest.fixture
def netns_pair(kernel):
    """(server, client) namespaces joined by veth; see traffic.py."""
    from traffic import veth_pair
    with namespace("fwm-srv") as server, namespace("fwm-cli") as client:
        with veth_pair(server, client):
            yield server, client
