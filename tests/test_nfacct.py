"""-m nfacct: read as iptables reads it, written back as iptables-legacy-save prints it (with
its two spaces), refused where the kernel refuses it (an accounting object the script does not
create), and refused for nft with the reason. The kernel test repeats each case with
iptables-legacy and the nfacct tool in a scratch namespace (Linux 6.18 has xt_nfacct)."""

import shlex
import shutil

import pytest

from fwmigrate import mappings
from fwmigrate.convert import ConvertOptions, convert
from fwmigrate.errors import FwmigrateError

LONG = "b" * 31

# (objects the script creates, the rule's nfacct words, the line iptables-save prints)
SAVED = [
    (["test"], "--nfacct-name test", "-A INPUT -m nfacct --nfacct-name  test"),
    (["a b"], "--nfacct-name 'a b'", '-A INPUT -m nfacct --nfacct-name  "a b"'),
    # nfacct and iptables both cut a name to 31 characters
    ([LONG + "xyz"], f"--nfacct-name {LONG}xyz", f"-A INPUT -m nfacct --nfacct-name  {LONG}"),
]

# (objects, the rule's nfacct words, the refusal: iptables' or the kernel's)
REFUSED = [
    (["test"], "", 'nfacct: option "--nfacct-name" must be specified'),
    (["test"], "--nfacct-name wrong", "nfacct object `wrong' does not exist"),
    ([], "--nfacct-name test", "nfacct object `test' does not exist"),
    (["test"], "! --nfacct-name test", 'option "--nfacct-name" cannot be inverted'),
    (["test"], "--nfacct-name ''", "Argument must have a minimum length of 1 characters"),
]


def _script(objects: list[str], words: str) -> str:
    made = "".join(f"nfacct add {shlex.quote(o)}\n" for o in objects)
    return made + f"iptables -A INPUT -m nfacct {words}\n"


@pytest.mark.parametrize("objects,words,saved", SAVED, ids=[r[1] for r in SAVED])
def test_read_back_in_save_form(objects, words, saved):
    out = convert(_script(objects, words), "fw.sh", ConvertOptions(to="iptables-restore"))
    assert saved in out.output.splitlines()
    again = convert(out.output, "fw.save", ConvertOptions(to="iptables-restore"))
    assert saved in again.output.splitlines()           # a save file reads it back


@pytest.mark.parametrize("objects,words,message", REFUSED, ids=[r[1] for r in REFUSED])
def test_refused_as_iptables_or_the_kernel_refuses(objects, words, message):
    with pytest.raises(FwmigrateError) as info:
        convert(_script(objects, words), "fw.sh", ConvertOptions(to="iptables-restore"))
    assert any(message in d.message for d in info.value.diagnostics), info.value.diagnostics


def test_nft_refuses_with_the_reason():
    with pytest.raises(FwmigrateError) as info:
        convert(_script(["test"], "--nfacct-name test"), "fw.sh", ConvertOptions(to="nft"))
    text = "\n".join(f"{d.message} {d.hint or ''}" for d in info.value.diagnostics)
    assert "-m nfacct has no exact nft equivalent" in text
    assert mappings.load("extensions")["not_translated"]["nfacct"] in text


def test_a_save_file_names_objects_it_does_not_declare():
    save = "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -m nfacct --nfacct-name  x\nCOMMIT\n"
    out = convert(save, "fw.save", ConvertOptions(to="iptables-restore")).output
    assert "-A INPUT -m nfacct --nfacct-name  x" in out.splitlines()


@pytest.mark.kernel
def test_iptables_legacy_prints_and_refuses_the_same(netns):
    if shutil.which("iptables-legacy") is None or shutil.which("nfacct") is None:
        pytest.skip("iptables-legacy or nfacct is not installed")
    wrong = []
    for cases, saving in ((SAVED, True), (REFUSED, False)):
        for objects, words, expected in cases:
            netns.run("iptables-legacy", "-F")
            netns.run("nfacct", "flush")
            for name in objects:
                netns.run("nfacct", "add", name)
            loaded = netns.run("iptables-legacy", "-A", "INPUT", "-m", "nfacct",
                               *shlex.split(words), check=False)
            lines = netns.run("iptables-legacy-save").stdout.splitlines()
            if saving and expected not in lines or not saving and loaded.returncode == 0:
                wrong.append((words, loaded.stderr, [x for x in lines if "nfacct" in x]))
    netns.run("iptables-legacy", "-F")
    netns.run("nfacct", "flush")
    assert not wrong
