"""-m connlabel's --label: numbers as strtoul base 0 reads them, names from connlabel.conf, and
iptables-save's choice of printing a label by name. The kernel test runs iptables-legacy with
the same connlabel.conf bind-mounted over /etc in a private mount namespace (the machine's own
/etc is not changed) and compares."""

import shlex
import shutil
import subprocess

import pytest

from fwmigrate.convert import ConvertOptions, convert
from fwmigrate.errors import FwmigrateError
from fwmigrate.frontends import connlabel_names, values

MAP = ("# labels\n40 forty\n0x29 fortyone\n 42   spaced name  \n40 other40\n43 forty\n"
       "200 big\n44 fortyfour\n")

# (--label as written, the line iptables-save prints)
SAVED = [
    ("forty", '-A INPUT -m connlabel --label "forty"'),
    ("fortyone", '-A INPUT -m connlabel --label "fortyone"'),
    ("'spaced name'", '-A INPUT -m connlabel --label "spaced name"'),
    ("0x28", '-A INPUT -m connlabel --label "forty"'),
    ("040", '-A INPUT -m connlabel --label "32"'),
    ("43", '-A INPUT -m connlabel --label "43"'),       # its line's name was taken
    ("! 41 --set", '-A INPUT -m connlabel ! --label "fortyone" --set'),
]

# (--label as written, iptables' or the kernel's refusal)
REFUSED = [
    ("other40", "label 'other40' not found or invalid value"),     # its bit was taken
    ("nope", "label 'nope' not found or invalid value"),
    ("big", "does not exist (labels are 0 to 127)"),
]


@pytest.fixture
def label_map(tmp_path, monkeypatch):
    conf = tmp_path / "connlabel.conf"
    conf.write_text(MAP)
    monkeypatch.setattr(connlabel_names, "CONNLABEL_CONF", str(conf))
    values.parse_value.cache_clear()
    yield conf
    values.parse_value.cache_clear()


def _words(label: str) -> str:
    """`! 41 --set` is `! --label 41 --set`."""
    return label.replace("! ", "! --label ", 1) if label.startswith("! ") else f"--label {label}"


def _ours(label: str) -> str:
    script = f"iptables -A INPUT -m connlabel {_words(label)}\n"
    return convert(script, "fw.sh", ConvertOptions(to="iptables-restore")).output


@pytest.mark.parametrize("label,saved", SAVED, ids=[r[0] for r in SAVED])
def test_names_and_numbers_as_iptables_reads_and_prints_them(label_map, label, saved):
    assert saved in _ours(label).splitlines()


@pytest.mark.parametrize("label,message", REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_as_iptables_refuses(label_map, label, message):
    with pytest.raises(FwmigrateError) as info:
        _ours(label)
    assert any(message in d.message for d in info.value.diagnostics), info.value.diagnostics


def test_without_a_label_map_a_name_is_refused_and_numbers_print_as_numbers(tmp_path,
                                                                            monkeypatch):
    monkeypatch.setattr(connlabel_names, "CONNLABEL_CONF", str(tmp_path / "absent.conf"))
    values.parse_value.cache_clear()
    try:
        with pytest.raises(FwmigrateError) as info:
            _ours("fortyfour")     # (a line read once is cached: a name no other test uses)
        assert "label 'fortyfour' not found or invalid value" in info.value.diagnostics[0].message
        assert '-A INPUT -m connlabel --label "40"' in _ours("0x28").splitlines()
    finally:
        values.parse_value.cache_clear()


@pytest.mark.kernel
def test_iptables_legacy_reads_and_prints_the_same(label_map, netns, tmp_path):
    if shutil.which("iptables-legacy") is None or shutil.which("unshare") is None:
        pytest.skip("iptables-legacy or unshare is not installed")
    etc = tmp_path / "etc"
    shutil.copytree("/etc", etc, symlinks=True, ignore_dangling_symlinks=True)
    (etc / "xtables").mkdir(exist_ok=True)
    (etc / "xtables" / "connlabel.conf").write_text(MAP)
    lines = [f"mount --bind {shlex.quote(str(etc))} /etc"]
    for label, _ in SAVED + REFUSED:
        lines.append(f"ip netns exec {netns.name} iptables-legacy -A INPUT -m connlabel "
                     f"{_words(label)} 2>/dev/null && echo LOADED {shlex.quote(label)}")
    lines.append(f"ip netns exec {netns.name} iptables-legacy-save 2>/dev/null")
    done = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                           "\n".join(lines)], capture_output=True, text=True, check=True)
    out = done.stdout.splitlines()
    netns.run("iptables-legacy", "-F")
    assert [line for line in out if line.startswith("-A")] == [s for _, s in SAVED]
    assert not [line for line in out if line.startswith("LOADED") and
                any(line == f"LOADED {shlex.quote(r)}" for r, _ in REFUSED)]
