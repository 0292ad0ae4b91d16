"""The lockout guard and targets that hand the session's packets elsewhere: -j TPROXY (to a
local proxy's socket, or dropped without one) and -j NFQUEUE (to a userspace program) do not
let them reach sshd, so the guard must not take them for ACCEPT."""

from __future__ import annotations

import ipaddress

from fwmigrate.apply.lockout import Session, check
from fwmigrate.convert import ConvertOptions, read

SESSION = Session(ipaddress.ip_address("198.51.100.7"), 40000,
                  ipaddress.ip_address("203.0.113.1"), 22, "eth0", "--keep")


def _cut(script: str, session: Session = SESSION) -> list[str]:
    return check(read(script, "fw.sh", ConvertOptions())[0], session).cut


def test_a_session_diverted_by_tproxy_is_cut():
    script = ("iptables -t mangle -A PREROUTING -p tcp --dport 22 -j TPROXY --on-port 3129\n"
              "iptables -t mangle -A PREROUTING -p tcp --dport 80 -j TPROXY --on-port 3129\n")
    cut = _cut(script)
    assert cut and all("DIVERT by rule 1" in c and "--dport 22" in c for c in cut)
    other = Session(SESSION.client, 40000, SESSION.server, 443, "eth0", "--keep")
    assert not _cut(script, other)


def test_a_session_queued_to_userspace_is_cut():
    cut = _cut("iptables -A INPUT -p tcp --dport 22 -j NFQUEUE --queue-num 3\n")
    assert cut and all("QUEUE by rule 1" in c for c in cut)


def test_a_session_made_untracked_is_cut_where_only_established_is_let_in():
    """NOTRACK (CT --notrack) in raw PREROUTING runs before conntrack: the session's packets
    are then UNTRACKED, not ESTABLISHED, and an `--ctstate ESTABLISHED` accept misses them."""
    for target in ("-j NOTRACK", "-j CT --notrack"):
        script = (f"iptables -t raw -A PREROUTING -p tcp --dport 22 {target}\n"
                  "iptables -P INPUT DROP\n"
                  "iptables -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT\n")
        cut = _cut(script)
        assert cut and any("policy of filter INPUT" in c for c in cut), (target, cut)
        untracked_ok = script + "iptables -A INPUT -m conntrack --ctstate UNTRACKED -j ACCEPT\n"
        assert not _cut(untracked_ok), target
