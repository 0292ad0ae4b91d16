"""Reading nft back, the semantic diff, and the kernel round trip (fwmigrate verify)."""

import json
import subprocess
import sys

import pytest

from fwmigrate.backends.nft_translate import translate
from fwmigrate.convert import ConvertOptions, read
from fwmigrate.errors import Diagnostics
from fwmigrate.frontends.nft_ruleset import read_nft_json
from fwmigrate.verify.diff import diff
from fwmigrate.verify.roundtrip import round_trip

from conftest import SAMPLES, ipsets_of, sample_inputs
from vectors import load

pytestmark = pytest.mark.kernel


def fw(*args):
    return subprocess.run([sys.executable, "-m", "fwmigrate", *args], capture_output=True,
                          text=True)


def ir(script, name="t.sh"):
    return read(script, name, ConvertOptions())[0]


@pytest.mark.parametrize("name", [p.name for p in sample_inputs()])
def test_samples_round_trip_through_the_kernel(netns, name):
    report = round_trip((SAMPLES / name).read_text(), name,
                        ConvertOptions(ipsets=ipsets_of(SAMPLES / name)))
    assert report.ok, [c.describe() for c in report.kernel + report.restore]


@pytest.mark.parametrize("to", ["nft", "nft-json"])
@pytest.mark.parametrize("name", [p.name for p in sample_inputs()])
def test_samples_are_equivalent_to_their_translations(netns, tmp_path, name, to):
    """verify --equiv SAMPLE TRANSLATION: nft text is loaded and listed back, a JSON
    command batch (what --to nft-json writes) too, then compared packet class by class."""
    companion = (SAMPLES / name).with_suffix(".ipsets")       # the sample's `ipset save`
    ipsets = ["--ipsets", str(companion)] if companion.exists() else []
    out = tmp_path / f"out.{to}"
    out.write_text(fw("convert", str(SAMPLES / name), "--to", to, *ipsets).stdout)
    result = fw("verify", "--equiv", str(SAMPLES / name), str(out), *ipsets)
    assert result.returncode == 0 and result.stdout.startswith("equivalent"), result.stdout


def test_a_changed_translation_is_not_equivalent(netns, tmp_path):
    """The same comparison fails when the translation drifts, in text and JSON alike."""
    for to, old, new in (("nft", "udp dport 123 accept", "udp dport 124 accept"),
                         ("nft-json", '"right": 123}', '"right": 124}')):
        text = fw("convert", str(SAMPLES / "nat-gateway.save"), "--to", to).stdout
        assert old in text
        out = tmp_path / f"out.{to}"
        out.write_text(text.replace(old, new))
        result = fw("verify", "--equiv", str(SAMPLES / "nat-gateway.save"), str(out))
        assert result.returncode == 1 and ":123 " in result.stdout, result.stdout


def test_every_vector_round_trips(netns):
    failures = []
    for v in load():
        # no nft_queue in the test kernel; tcp option 99 has no name libnftables JSON takes
        if v.is_error or "queue num" in v.expected or "option 99" in v.expected:
            continue
        report = round_trip(v.script, v.file, ConvertOptions(ipsets=v.ipsets_input))
        if not report.ok:
            failures.append((str(v), [c.describe() for c in report.kernel + report.restore]))
    assert not failures


def test_round_trip_finds_a_wrong_translation(netns, monkeypatch):
    """The check can fail: make the translator write port 23 for 22 and it must notice."""
    from fwmigrate.backends import nft_common
    original = nft_common.port

    def wrong(p):
        return original(type(p)(23, 23)) if p.first == 22 else original(p)
    monkeypatch.setattr(nft_common, "port", wrong)
    report = round_trip((SAMPLES / "tutorial.sh").read_text(), "tutorial.sh", ConvertOptions())
    assert not report.ok
    assert any("port 23" in c.describe() for c in report.kernel)


def test_nft_reader_reads_hand_written_nft(netns):
    netns.nft("-f", "-", input="""
table inet filter {
    chain input {
        type filter hook input priority 0; policy drop;
        ct state established,related accept
        iifname "lo" accept
        meta nfproto ipv6 icmpv6 type { nd-neighbor-solicit, echo-request } accept
        ip saddr 10.0.0.0/8 tcp dport { 22, 80 } counter accept
        tcp dport 443 log prefix "https " accept
    }
}
""")
    diags = Diagnostics()
    ruleset = read_nft_json(json.loads(netns.nft("-j", "list", "ruleset").stdout), "k", diags)
    assert not diags.errors, [d.render() for d in diags.errors]
    v4 = ruleset.table("ip", "filter").chain("INPUT")
    assert v4.policy == "DROP" and len(v4.rules) == 5    # the ipv6 rule is not in this view
    from fwmigrate.backends.iptables_save import rule_line
    lines = [rule_line("INPUT", r) for r in v4.rules]
    # the counter after every test is the rule's [packets:bytes] (no traffic here)
    assert lines[2] == \
        "[0:0] -A INPUT -s 10.0.0.0/8 -p tcp -m multiport --dports 22,80 -j ACCEPT"
    assert lines[3:] == ['-A INPUT -p tcp -m tcp --dport 443 -j LOG --log-prefix "https "',
                         "-A INPUT -p tcp -m tcp --dport 443 -j ACCEPT"]


def test_what_the_reader_cannot_represent_is_reported(netns):
    netns.nft("-f", "-", input="table ip t {\n chain c { type filter hook input priority 0; "
                                "\n  ct zone 5 accept\n }\n}\n")
    diags = Diagnostics()
    read_nft_json(json.loads(netns.nft("-j", "list", "ruleset").stdout), "k", diags)
    assert any("ct zone" in d.message for d in diags.errors)


def test_diff_ignores_cosmetics():
    a = ir("iptables -A INPUT -p tcp -m state --state NEW -m tcp --dport 22 -m comment "
           "--comment x -j ACCEPT\n")
    b = ir("iptables -A INPUT -p tcp -m multiport --dports 22 -m conntrack --ctstate NEW "
           "-j ACCEPT\n")
    assert diff(a, b) == []


def test_diff_aligns_rules_and_reports_both_locations():
    a = ir("iptables -A INPUT -p tcp --dport 22 -j ACCEPT\niptables -A INPUT -j DROP\n", "a.sh")
    b = ir("iptables -A INPUT -p tcp --dport 22 -j ACCEPT\niptables -A INPUT -p udp -j ACCEPT\n"
           "iptables -A INPUT -j DROP\niptables -P FORWARD DROP\n", "b.sh")
    changes = diff(a, b)
    assert [(c.kind, c.chain, c.b_index) for c in changes] == [("added", "INPUT", 2),
                                                               ("policy", "FORWARD", None)]
    assert str(changes[0].b.loc) == "b.sh:2:1"


def test_diff_cli_exit_codes_and_json(tmp_path):
    a = tmp_path / "a.sh"
    a.write_text("iptables -A INPUT -p tcp --dport 22 -j ACCEPT\n")
    b = tmp_path / "b.sh"
    b.write_text("iptables -A INPUT -p tcp --dport 23 -j ACCEPT\n")
    assert fw("diff", str(a), str(a)).returncode == 0
    result = fw("diff", str(a), str(b), "--format", "json")
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert data["changes"][0]["kind"] == "changed"
    assert data["changes"][0]["a"]["location"] == f"{a}:1:1"
    assert fw("diff", str(a), "/nonexistent").returncode == 2


def test_diff_against_nft_text_and_live(netns, tmp_path):
    nft = tmp_path / "t.nft"
    nft.write_text(fw("convert", str(SAMPLES / "tutorial.sh")).stdout)
    result = fw("diff", str(SAMPLES / "tutorial.save"), str(nft))
    assert result.returncode == 0, result.stdout + result.stderr
    netns.nft("-f", str(nft))
    result = fw("diff", str(SAMPLES / "tutorial.sh"), "--live", "--netns", netns.name)
    assert result.returncode == 0, result.stdout + result.stderr
    netns.nft("delete", "rule", "ip", "fwmigrate", "STATE3", "handle",
              _handle(netns, "STATE3", "tcp dport 22"))
    result = fw("diff", str(SAMPLES / "tutorial.sh"), "--live", "--netns", netns.name)
    assert result.returncode == 1
    assert "ip filter STATE3: rule removed" in result.stdout


def test_diff_live_takes_a_namespace_path_and_names_a_missing_one(netns, tmp_path):
    """--netns takes a name or a path (/run/netns/NAME), as apply's does; diff --live said
    `Invalid netns name` for a path."""
    nft = tmp_path / "t.nft"
    nft.write_text(fw("convert", str(SAMPLES / "tutorial.sh")).stdout)
    netns.nft("-f", str(nft))
    result = fw("diff", str(SAMPLES / "tutorial.sh"), "--live", "--netns",
                f"/run/netns/{netns.name}")
    assert result.returncode == 0, result.stdout + result.stderr
    result = fw("diff", str(SAMPLES / "tutorial.sh"), "--live", "--netns", "fwm-no-such-ns")
    assert result.returncode == 2
    assert "network namespace fwm-no-such-ns: No such file or directory" in result.stderr


def _handle(netns, chain, text):
    for line in netns.nft("-a", "list", "chain", "ip", "fwmigrate", chain).stdout.splitlines():
        if text in line:
            return line.rsplit("handle ", 1)[1].strip()
    raise AssertionError(text)


def test_verify_cli(netns):
    result = fw("verify", str(SAMPLES / "tutorial.sh"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "kernel round trip: identical (26 rules in 8 chains)" in result.stdout


def test_many_port_lists_become_named_sets_with_the_same_meaning(netns):
    from fwmigrate.backends import nft_sets
    lines = [f"iptables -A INPUT -s 10.0.{i // 250}.{i % 250} -p tcp -m multiport "
             f"--dports {80 + i % 3},443 -j ACCEPT" for i in range(nft_sets.THRESHOLD + 10)]
    script = "\n".join(lines) + "\n"
    model = translate(ir(script)).ruleset
    sets = [s for s in model.tables[0].sets if s.elements is not None]
    assert len(sets) == 3                       # one per distinct literal
    report = round_trip(script, "many.sh", ConvertOptions())
    assert report.ok, [c.describe() for c in report.kernel]


# Comp8006FirewallGroup/StandAloneFirewall ends with `$IPT -A www`: a rule with no match and no
# target, which only counts. nft has no empty rule: it is written as `counter` (what
# iptables-translate gives too), in text and JSON, and reads back as the same rule.
_COUNTING = ("*filter\n:INPUT ACCEPT [0:0]\n:www - [0:0]\n-A INPUT -j www\n-A www\n"
             "-A www -p tcp\nCOMMIT\n")


def test_a_rule_that_only_counts_round_trips_through_the_kernel(netns):
    report = round_trip(_COUNTING, "count.save", ConvertOptions())
    assert report.ok, [c.describe() for c in report.kernel + report.restore]


@pytest.mark.parametrize("to", ["nft", "nft-json"])
def test_a_rule_that_only_counts_is_a_counter_rule(netns, to):
    from fwmigrate.convert import convert
    text = convert(_COUNTING, "count.save", ConvertOptions(to=to)).output
    netns.nft(*(["-j"] if to == "nft-json" else []), "-f", "-", input=text)
    listed = netns.nft("list", "chain", "ip", "fwmigrate", "www").stdout
    assert [line.strip() for line in listed.splitlines()][2:4] == [
        "counter packets 0 bytes 0", "ip protocol tcp"], listed


def test_nft_text_errors_name_the_line_and_column(kernel, tmp_path):
    # fuzz: nft's errors were shown without file:line:col, each with the file's first line
    # (libnftables does not place errors in a buffer it was given); a byte that is not UTF-8
    # made the loader die with a traceback that was printed as the message
    bad = tmp_path / "bad.nft"
    bad.write_text("table ip t {\n  chain c {\n    tcp dport foo bar\n  }\n}\n")
    result = fw("diff", str(bad), str(bad))
    assert result.returncode == 2
    assert result.stderr.splitlines()[:3] == [
        f"{bad}:3:22: error: nftables: syntax error, unexpected newline",
        "        tcp dport foo bar",
        "    " + " " * 21 + "^"], result.stderr
    latin = tmp_path / "latin.nft"
    latin.write_bytes(b"# caf\xe9\ntable ip t {\n  chain c {\n    tcp dport 22 accept "
                      b"comment \"\xff\"\n  }\n}\n")
    result = fw("diff", str(latin), str(latin))
    assert result.returncode == 2
    assert result.stderr.startswith(f"{latin}:4:34: error: byte 0xFF is not UTF-8 text\n")
    assert "Traceback" not in result.stderr


def test_json_input_not_in_nfts_own_shape_is_nfts_to_judge(kernel, tmp_path):
    # fuzz: a JSON listing of another shape (hand-written or damaged) crashed the reader
    # (TypeError, AttributeError); what nft's own listing does not look like is loaded through
    # the kernel, which says what is wrong with it, or accepts it and lists it in its own shape
    bad = tmp_path / "bad.json"
    bad.write_text('{"nftables": [1, {"rule": 5}]}')
    result = fw("diff", str(bad), str(bad))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"{bad}:1:15: error: item 0 of the `nftables' array is "
                                    "a number"), result.stderr
    bad.write_text('{"nftables": [{"rule": 5}]}')
    result = fw("diff", str(bad), str(bad))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"{bad}:1:15: error: nftables refused {bad}: " in result.stderr, result.stderr
    # hand-written: rule without handle, a chain without its table's family spelled out twice
    hand = tmp_path / "hand.json"
    hand.write_text(json.dumps({"nftables": [
        {"table": {"family": "ip", "name": "t"}},
        {"chain": {"family": "ip", "table": "t", "name": "INPUT", "type": "filter",
                   "hook": "input", "prio": 0, "policy": "accept"}},
        {"rule": {"family": "ip", "table": "t", "chain": "INPUT", "expr": [
            {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}},
                       "right": 22}}, {"accept": None}]}}]}))
    script = tmp_path / "fw.sh"
    script.write_text("iptables -A INPUT -p tcp --dport 22 -j ACCEPT\n")
    result = fw("diff", str(script), str(hand))
    assert result.returncode == 0, result.stdout + result.stderr
    broken = tmp_path / "broken.json"
    broken.write_text('{"nftables": [\n  {"table": {"family": "ip", "name": "t"}},\n  oops\n]}')
    result = fw("diff", str(broken), str(broken))
    assert result.stderr.startswith(f"{broken}:3:3: error: not valid JSON: Expecting value"), \
        result.stderr


def test_an_nft_file_that_crashes_nft_is_said_to(kernel, tmp_path):
    # fuzz: libnftables 1.0.6 dies (SIGSEGV) on `update @S { 1: saddr }`; the message was
    # "cannot read the kernel's ruleset: (no message)"
    bad = tmp_path / "crash.nft"
    bad.write_text("table ip t {\n  set S {\n    type ipv4_addr\n    flags dynamic\n  }\n"
                   "  chain c {\n    udp dport 1 update @S { 1: saddr } drop\n  }\n}\n")
    result = fw("diff", str(bad), str(bad))
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: nftables crashed (SIGSEGV) reading {bad}"), \
        result.stderr


def test_a_non_utf8_comment_in_a_broken_nft_file_is_reported_where_nft_stops(tmp_path):
    """fuzz (bench/fuzz_inputs.py seed 777): an nft file cut short after a latin-1 comment made
    `diff` say `cannot read the kernel's ruleset: UnicodeDecodeError` (nft's error quotes the
    comment line, and the bindings decode their output as UTF-8), with no file:line."""
    nft = tmp_path / "cut.nft"
    nft.write_bytes(b"#!/usr/sbin/nft -f\ntable ip t {\n\tchain c {\n\t\taccept\n\t}\n"
                    b"\t# caf\xe9\n")
    result = fw("diff", str(nft), str(nft))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "UnicodeDecodeError" not in result.stderr
    assert f"{nft}:" in result.stderr and "nftables:" in result.stderr, result.stderr
    # a whole file with such a comment still reads (the comment is not part of the ruleset)
    nft.write_bytes(b"table ip t {\n\t# caf\xe9\n\tchain c {\n\t\taccept\n\t}\n}\n")
    assert fw("diff", str(nft), str(nft)).returncode == 0


def test_nft_json_that_nftables_refuses_is_reported_at_the_command(tmp_path):
    """fuzz_inputs (seed 4242): libnftables says only `Parsing command array at index 15
    failed` for a listing it refuses; the error now points at that command in the file."""
    listing = json.loads(fw("convert", str(SAMPLES / "tutorial.sh"), "--to", "nft-json").stdout)
    listing["nftables"][3] = {"rule": {"payload": {"protocol": "tcp"}}}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(listing, indent=1))
    result = fw("diff", str(path), str(path))
    assert result.returncode == 2, result.stdout + result.stderr
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1)
                if '"payload"' in text)
    # the command's opening brace: two lines above `"payload"` with indent=1
    assert f"{path}:{line - 2}:" in result.stderr, result.stderr
    assert "index 3" in result.stderr


@pytest.mark.parametrize("document, where, words", [
    ('{"nftables": null}\n', "1:1", "`nftables' must be an array"),
    ('{"nftables": [\n {"metainfo": {}},\n 7\n]}\n', "3:2", "item 1 of the `nftables' array "
                                                           "is a number, not an object"),
])
def test_a_json_document_of_the_wrong_shape_is_placed(tmp_path, document, where, words):
    # fuzz_inputs (seeds 1301, 1302): libnftables says these without a place
    path = tmp_path / "bad.json"
    path.write_text(document)
    result = fw("diff", str(path), str(path))
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"{path}:{where}: error: " in result.stderr and words in result.stderr, result.stderr
