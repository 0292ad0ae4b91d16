"""nftables lets a packet go 15 jumps (or gotos) deep from a base chain and refuses a deeper
ruleset only when the transaction commits: `nft -c`, `apply --check` and `save`'s dry run do
not see it, and `save` wrote a file the kernel refused at boot. fwmigrate refuses it first,
naming the rule; iptables-legacy has no such limit, so a script that ran there can hit it."""

import os
import subprocess
import sys

import pytest

from fwmigrate.convert import ConvertOptions, convert
from fwmigrate.errors import FwmigrateError


def chain_of(depth: int, goto_at: int | None = None) -> str:
    """INPUT jumps to C1, C1 to C2 … C(depth-1) to C(depth): C(depth) sits `depth` jumps
    below the base chain."""
    lines = [f"iptables -N C{i}" for i in range(1, depth + 1)]
    lines.append("iptables -A INPUT -j C1")
    for i in range(1, depth):
        how = "-g" if i == goto_at else "-j"
        lines.append(f"iptables -A C{i} {how} C{i + 1}")
    lines.append(f"iptables -A C{depth} -j ACCEPT")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("goto_at", [None, 5])
def test_a_chain_16_jumps_deep_is_refused_naming_the_rule(goto_at):
    script = chain_of(16, goto_at)
    with pytest.raises(FwmigrateError) as caught:
        convert(script, "deep.sh", ConvertOptions(to="nft"))
    text = "\n".join(d.render() for d in caught.value.diagnostics)
    last = script.splitlines().index("iptables -A C15 -j C16") + 1
    assert f"deep.sh:{last}:" in text
    assert "16 jumps" in text and "INPUT → C1 →" in text and "C15 → C16" in text


def test_a_chain_15_jumps_deep_translates():
    assert "jump C15" in convert(chain_of(15), "deep.sh", ConvertOptions(to="nft")).output


@pytest.mark.kernel
@pytest.mark.parametrize("depth, accepted", [(15, True), (16, False)])
def test_the_limit_is_the_kernels(netns, tmp_path, depth, accepted):
    """The kernel loads 15 levels and refuses 16, as fwmigrate says; 16 is refused before
    anything is sent (nothing applied, no backup)."""
    path = tmp_path / "deep.sh"
    path.write_text(chain_of(depth))
    state = tmp_path / "state"
    result = subprocess.run([sys.executable, "-m", "fwmigrate", "apply", str(path), "--netns",
                             netns.name, "--state-dir", str(state)], capture_output=True,
                            text=True, env={k: v for k, v in os.environ.items()
                                            if k != "SSH_CONNECTION"})
    assert result.returncode == (0 if accepted else 1), result.stderr
    loaded = "table ip fwmigrate" in netns.nft("list", "tables").stdout
    assert loaded == accepted
    assert state.exists() == accepted
    if not accepted:     # the kernel agrees: the same chains written by hand are refused
        text = ["table ip t {"] + [f"chain C{i} {{ jump C{i + 1}; }}" for i in range(1, depth)]
        text += [f"chain C{depth} {{ accept; }}",
                 "chain INPUT { type filter hook input priority 0; jump C1; }", "}"]
        refused = netns.nft("-f", "-", input="\n".join(text) + "\n", check=False)
        assert refused.returncode != 0 and "Too many links" in refused.stderr
