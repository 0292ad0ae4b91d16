"""The bytecode the kernel holds for a ruleset, as `nft --debug=netlink list ruleset` prints it,
for bench/conformance.py's second look at two rules whose listings differ.

nft 1.0.6 lists some rules it loaded wrongly (`ct original saddr 10.100.0.0/16` comes back as
`ct original ip saddr 0.0.10.100`), so a listing can differ where the kernel holds the same
expressions. The bytecode is what the kernel runs: two rulesets with the same bytecode treat
every packet the same. Only what cannot change a verdict is normalised away: rule handles and
positions, set names (by order of appearance), the order of a set's elements, and the ct key
spelling that bench/conformance.py's listing comparison also equates (below).
"""

from __future__ import annotations

import re
import subprocess

# `ct load src` (NFT_CT_SRC) and `ct load src_ip` (NFT_CT_SRC_IP) copy the same 4 bytes of an
# IPv4 tuple into the register, `src` and `src_ip6` the same 16 bytes of an IPv6 one; an ip
# (ip6) table only sees IPv4 (IPv6) packets, so their conntrack tuples are of that family
_CT_KEY = re.compile(r"\bct load (src|dst)_ip6? ")
_RULE_HEAD = re.compile(r"^(ip6?|inet|arp|bridge|netdev) (\S+) (\S+)(?: \d+)+$")
_SET_HEAD = re.compile(r"^(ip6?|inet|arp|bridge|netdev) (\S+) @(\S+)$")
_SET_REF = re.compile(r"\b(set|map) (\S+)")


def read_ruleset_bytecode() -> list[str]:
    """The namespace's ruleset (this process runs inside it) as normalised bytecode lines."""
    out = subprocess.run(["nft", "--debug=netlink", "list", "ruleset"], text=True,
                         capture_output=True, check=True).stdout
    return normalise(out)


def normalise(debug_output: str) -> list[str]:
    """The bytecode part of `nft --debug=netlink list ruleset` (it comes before the listing),
    without what cannot change a verdict."""
    names: dict[str, str] = {}

    def set_name(name: str) -> str:
        return names.setdefault(name, f"set{len(names)}")

    blocks: list[list[str]] = []
    family = None
    for line in debug_output.splitlines():
        if line.startswith("table "):
            break
        if not line.strip():
            continue
        head = _RULE_HEAD.match(line)
        set_head = _SET_HEAD.match(line)
        if head:
            family = head.group(1)
            blocks.append([f"{head.group(1)} {head.group(2)} {head.group(3)}"])
        elif set_head:
            family = set_head.group(1)
            blocks.append([f"{set_head.group(1)} {set_head.group(2)} "
                           f"@{set_name(set_head.group(3))}"])
        elif blocks:
            line = _SET_REF.sub(lambda m: f"{m.group(1)} {set_name(m.group(2))}", line.strip())
            if family in ("ip", "ip6"):
                line = _CT_KEY.sub(r"ct load \1 ", line)
            blocks[-1].append(line)
        else:
            raise ValueError(f"unexpected line in nft's netlink debug output: {line!r}")
    out = []
    for block in blocks:
        # a set's elements come in the kernel's hash order
        body = sorted(block[1:]) if "@" in block[0] else block[1:]
        out += [block[0], *body]
    return out
