"""Load what fwmigrate writes into the real kernel, inside namespaces the tests create."""

import json
import shutil
from pathlib import Path

import pytest

from fwmigrate.convert import ConvertOptions, convert
from fwmigrate.dropin import restore_translate

from vectors import load

pytestmark = pytest.mark.kernel


def _kernel_lacks(vector) -> str | None:
    # the nft queue expression needs nft_queue, which some kernels (this CI's) do not build;
    # nft then refuses the rule with "No such file or directory", whatever the translation
    if "queue" in vector.expected and not Path("/sys/module/nft_queue").exists():
        return "nft_queue"
    return None


def test_every_vector_loads(netns):
    """All translated vectors, each in its own table of one file, pass `nft -c`."""
    for family in ("ip", "ip6"):
        parts = []
        for n, vector in enumerate(v for v in load() if not v.is_error):
            if (vector.program == "ip6tables") != (family == "ip6") or _kernel_lacks(vector):
                continue
            out = convert(vector.script, vector.file,
                          ConvertOptions(table=f"v{n}", ipsets=vector.ipsets_input)).output
            parts.append(out)
        result = netns.nft("-c", "-f", "-", input="\n".join(parts), check=False)
        assert result.returncode == 0, result.stderr


def _tutorial(samples_dir, name="tutorial.sh", **kw):
    path = samples_dir / name
    return convert(path.read_text(), f"samples/{name}", ConvertOptions(**kw)).output


@pytest.mark.parametrize("name", ["tutorial.sh", "tutorial.save"])
def test_tutorial_loads_and_shows_knock_sets(netns, samples_dir, name):
    text = _tutorial(samples_dir, name)
    netns.nft("-c", "-f", "-", input=text)
    netns.nft("-f", "-", input=text)
    listing = netns.nft("list", "ruleset").stdout
    for chain in ("INPUT", "STATE0", "STATE1", "STATE2", "STATE3", "LOGDROP"):
        assert f"chain {chain} {{" in listing
    data = json.loads(netns.nft("-j", "list", "sets").stdout)["nftables"]
    sets = {e["set"]["name"]: e["set"] for e in data if "set" in e}
    assert set(sets) == {"KNOCK1", "KNOCK2", "KNOCK3"}
    assert all(s["type"] == "ipv4_addr" for s in sets.values())
    assert "update @KNOCK1 { ip saddr }" in listing
    assert "delete @KNOCK3 { ip saddr }" in listing


def test_reload_replaces_only_our_table(netns, samples_dir):
    netns.nft("-f", "-", input="table inet docker_like {\n chain c { type filter hook input "
                                "priority 10; policy accept; }\n}\n")
    text = _tutorial(samples_dir)
    netns.nft("-f", "-", input=text)
    netns.nft("-f", "-", input=text)        # twice: the second run replaces, not appends
    listing = netns.nft("list", "ruleset").stdout
    assert "table inet docker_like" in listing
    assert listing.count("chain STATE0 {") == 1
    assert listing.count("jump STATE0") == 4


@pytest.mark.parametrize("tool", ["iptables-legacy-restore", "iptables-nft-restore"])
def test_tutorial_restore_output_is_accepted(netns, samples_dir, tool):
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed")
    text = _tutorial(samples_dir, to="iptables-restore")
    result = netns.run(tool, "--test", input=text, check=False)
    assert result.returncode == 0, result.stderr


def test_restore_translate_output_loads(netns, samples_dir):
    text = restore_translate((samples_dir / "tutorial.save").read_text(), "tutorial.save", None)
    netns.nft("-f", "-", input=text)
    listing = netns.nft("list", "table", "ip", "filter").stdout
    assert "ip saddr @KNOCK3 counter packets 0 bytes 0 jump STATE3" in listing


def test_script_and_save_give_the_same_kernel_ruleset(netns, samples_dir):
    netns.nft("-f", "-", input=_tutorial(samples_dir, "tutorial.sh"))
    from_script = netns.nft("-j", "list", "ruleset").stdout
    netns.nft("flush", "ruleset")
    netns.nft("-f", "-", input=_tutorial(samples_dir, "tutorial.save"))
    from_save = netns.nft("-j", "list", "ruleset").stdout

    def rules(listing):
        items = json.loads(listing)["nftables"]
        return sorted(json.dumps({k: v for k, v in e["rule"].items() if k != "handle"},
                                 sort_keys=True) for e in items if "rule" in e)
    assert rules(from_script) == rules(from_save)


def test_inet_table_for_a_single_family_loads(netns, samples_dir):
    text = _tutorial(samples_dir, "nat-gateway.sh", family="inet")
    assert "table inet fwmigrate {" in text
    assert "meta nfproto ipv6 accept" in text
    netns.nft("-f", "-", input=text)
    assert "chain nat_POSTROUTING" in netns.nft("list", "table", "inet", "fwmigrate").stdout


def test_translate_output_runs_as_nft_commands(netns):
    from fwmigrate.dropin import translate_command
    netns.nft("-f", "-", input="table ip filter {\n chain INPUT { type filter hook input "
                                "priority 0; policy accept; }\n}\n")
    commands = [
        ["-N", "KNOCK"],
        ["-A", "INPUT", "-p", "udp", "--dport", "1234", "-m", "recent", "--name", "K",
         "--set", "-j", "DROP"],
        ["-A", "INPUT", "-m", "recent", "--name", "K", "--rcheck", "-j", "KNOCK"],
        ["-I", "INPUT", "2", "-p", "tcp", "--syn", "-j", "ACCEPT"],
        ["-A", "KNOCK", "-m", "comment", "--comment", "it's", "-j", "LOG", "--log-prefix", "k: "],
        ["-P", "INPUT", "DROP"],
    ]
    for args in commands:
        for line in translate_command(args, "ip"):
            assert line.startswith("nft '") and line.endswith("'")
            netns.run("sh", "-c", line)
    listing = netns.nft("list", "table", "ip", "filter").stdout
    rules = [line.strip() for line in listing.splitlines() if "counter" in line]
    assert rules == [
        "udp dport 1234 update @K { ip saddr } counter packets 0 bytes 0 drop",
        "tcp flags syn / fin,syn,rst,ack counter packets 0 bytes 0 accept",
        "ip saddr @K counter packets 0 bytes 0 jump KNOCK",
        'counter packets 0 bytes 0 log prefix "k: " comment "it\'s"',
    ]
    assert "policy drop;" in listing
