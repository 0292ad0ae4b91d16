"""One iptables command → the exact nft rule (or the exact refusal), per option."""

import pytest

from fwmigrate.backends import nft_text
from fwmigrate.backends.nft_translate import NftOptions, translate
from fwmigrate.convert import ConvertOptions, read
from fwmigrate.errors import FwmigrateError

from vectors import load

VECTORS = load()


def translate_vector(vector):
    """The nft text of the vector's own rule (the last rule the script adds)."""
    ruleset, _ = read(vector.script, vector.file, ConvertOptions(ipsets=vector.ipsets_input))
    translation = translate(ruleset, NftOptions())
    if translation.problems:
        raise FwmigrateError(translation.problems)
    last = None
    for table in ruleset.tables:
        for chain in table.chains:
            if chain.rules:
                last = (table.name, chain.name)
    assert last is not None, "the vector added no rule"
    name = last[1] if last[0] == "filter" else f"{last[0]}_{last[1]}"
    chain = next(c for t in translation.ruleset.tables for c in t.chains if c.name == name)
    # the last rule, and the companions written after it (a full hashlimit set's drop, the
    # second half of a conntrack test: nft_companions.py)
    last = max(i for i, r in enumerate(chain.rules) if not r.companion)
    return "  ;;  ".join(nft_text.rule_text(r) for r in chain.rules[last:])


@pytest.mark.parametrize("vector", VECTORS, ids=str)
def test_vector(vector):
    if vector.is_error:
        with pytest.raises(FwmigrateError) as info:
            translate_vector(vector)
        text = "\n".join(d.message for d in info.value.diagnostics)
        assert vector.expected[len("ERROR "):] in text
    else:
        assert translate_vector(vector) == vector.expected


def test_every_vector_file_has_vectors():
    assert len({v.file for v in VECTORS}) >= 10
    assert len(VECTORS) > 150


def test_tcpmss_is_translated_only_as_a_reported_approximation():
    script = ("iptables -t mangle -A FORWARD -p tcp --tcp-flags SYN,RST SYN "
              "-j TCPMSS --clamp-mss-to-pmtu\n")
    ruleset, _ = read(script, "mss.sh", ConvertOptions())
    translation = translate(ruleset, NftOptions(approximate=True))
    assert not translation.problems
    assert [a.message for a in translation.approximations] == [
        "TCPMSS: SYNs without an MSS option pass unchanged (xt_TCPMSS adds one)"]
    rule = next(r for t in translation.ruleset.tables for c in t.chains for r in c.rules)
    assert nft_text.rule_text(rule).endswith("tcp option maxseg size set rt mtu")


def test_a_constant_connmark_is_shifted_in_32_bits_by_the_translator():
    # --set-mark 0xf0000023 --left-shift-mark 4: (0 & ~m ^ v) << 4, cut to 32 bits; read back
    # it is the same constant mark (--set-xmark 0x230/0xffffffff), so no vector round-trips it
    script = ("iptables -t mangle -A PREROUTING -j CONNMARK --set-mark 0xf0000023 "
              "--left-shift-mark 4\n")
    ruleset, _ = read(script, "c.sh", ConvertOptions())
    rule = translate(ruleset, NftOptions()).ruleset.tables[0].chains[0].rules[0]
    assert nft_text.rule_text(rule).endswith("ct mark set 0x230")
