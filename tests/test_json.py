"""The libnftables JSON backend says the same thing as the text backend: the kernel lists both
rulesets identically (tests load each into a scratch namespace)."""

import json

import pytest

from fwmigrate.backends import nft_json, nft_text
from fwmigrate.backends.nft_translate import NftOptions, translate
from fwmigrate.convert import ConvertOptions, read

from conftest import SAMPLES
from netns import without_handles
from vectors import load

# The text format cannot hold a `"` in a comment (it becomes `'`); JSON keeps it.
TEXT_CANNOT_SAY = {"comment.txt"}


_IPSETS: dict[str, tuple[str, str]] = {}


def cases():
    out = []
    for v in load():
        if v.is_error or "queue" in v.expected:
            continue
        if v.file in TEXT_CANNOT_SAY and '"' in v.args:
            continue
        out.append((str(v), v.script, None))
        if v.ipsets_input is not None:
            _IPSETS[str(v)] = v.ipsets_input      # the kernel refuses rules naming no set
    for name in ("tutorial.sh", "tutorial.save", "nat-gateway.sh", "dual-stack.sh",
                 "docker-host.save", "mangle-raw.save"):
        out.append((name, (SAMPLES / name).read_text(), None))
    # one inet table: both families merged, and one family with the other passing
    for name in ("dual-stack.sh", "dual-stack.save", "nat-gateway.sh", "tutorial.sh"):
        out.append((f"{name} --family inet", (SAMPLES / name).read_text(), "inet"))
    return out


def model(name, script, family=None):
    ruleset, _ = read(script, name, ConvertOptions(ipsets=_IPSETS.get(name)))
    return translate(ruleset, NftOptions(family=family)).ruleset


def _kernel_listing(netns):
    items = json.loads(netns.nft("-j", "list", "ruleset").stdout)["nftables"]
    # nft 1.0.6 keeps a set's comment from text but not from JSON (nft_json.nft_set)
    items = [{"set": {k: v for k, v in e["set"].items() if k != "comment"}} if "set" in e
             else e for e in items]
    return [without_handles(e) for e in items if "metainfo" not in e]


def test_json_validates_against_the_bindings_schema():
    nftables = pytest.importorskip("nftables")
    nft = nftables.Nftables()
    for name, script, family in cases():
        try:
            batch = nft_json.commands(model(name, script, family))
        except nft_json.Unrepresentable:
            continue
        assert nft.json_validate(batch)


@pytest.mark.kernel
def test_text_and_json_load_to_the_same_kernel_ruleset(netns):
    checked = 0
    for name, script, family in cases():
        m = model(name, script, family)
        try:
            batch = json.dumps(nft_json.commands(m))
        except nft_json.Unrepresentable:
            continue
        netns.nft("flush", "ruleset")
        netns.nft("-f", "-", input=nft_text.render(m).text)
        from_text = _kernel_listing(netns)
        netns.nft("flush", "ruleset")
        netns.nft("-j", "-f", "-", input=batch)
        assert _kernel_listing(netns) == from_text, name
        checked += 1
    assert checked > 150


def test_what_json_cannot_say_is_refused_not_dropped():
    m = model("x.sh", "iptables -A INPUT -p tcp --tcp-option 99 -j ACCEPT\n")
    with pytest.raises(nft_json.Unrepresentable, match="TCP option kind 99"):
        nft_json.commands(m)


def test_a_json_refusal_names_every_rule_it_cannot_say():
    """`convert --to nft-json` refusing must say which rules, all of them (as the other
    refusals do), not only what: the user has to find the rule to change."""
    from fwmigrate.convert import convert
    from fwmigrate.errors import FwmigrateError
    script = ("iptables -A INPUT -p tcp --dport 22 -j ACCEPT\n"
              "iptables -A INPUT -p tcp --tcp-option 99 -j ACCEPT\n"
              "iptables -A INPUT -p tcp --tcp-option 98 -j DROP\n")
    with pytest.raises(FwmigrateError) as info:
        convert(script, "fw.sh", ConvertOptions(to="nft-json"))
    found = info.value.diagnostics
    assert [(d.loc.file, d.loc.line) for d in found] == [("fw.sh", 2), ("fw.sh", 3)]
    assert "TCP option kind 99" in found[0].message and "kind 98" in found[1].message
    with pytest.raises(nft_json.Unrepresentable, match=r"fw\.sh:2:.*1 more rule"):
        nft_json.commands(model("fw.sh", script))
