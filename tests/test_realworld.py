"""Firewall scripts and iptables-save dumps modelled on published ones (tests/realworld/): each
is our own rewrite that keeps what made the original worth testing (its idioms, option
spellings, save-file quirks, the rule that is refused and why), and names the repository and
path it is modelled on.

Every file has one expected outcome, so a new file needs a decision here:
- CONVERTS: translated to nft (the file loads: `nft -c` in a scratch namespace, and what the
  kernel then lists reads back as the input) and to iptables-restore text;
- REFUSED: the first error is at the given line:column and says why. `why` is the class:
  "static" (needs running the script: `$(…)`, functions, `case`, arguments, a command that is
  not iptables), "exact" (no exact nft translation: fail closed), "iptables" (iptables itself
  rejects the command; IPTABLES_REJECTS repeats it against iptables-legacy to prove it).
"""

from pathlib import Path

import pytest

from fwmigrate.convert import ConvertOptions, convert
from fwmigrate.errors import FwmigrateError
from fwmigrate.verify.roundtrip import round_trip

REALWORLD = Path(__file__).parent / "realworld"

# file → ConvertOptions fields
CONVERTS = {
    "allow-everything-dual.sh": {},
    "array-ports-quoted.sh": {},
    "array-ports-unquoted.sh": {},
    "asterisk-netmasks.save": {},
    "captive-portal-mark-mac.save": {},
    "container-nflog-services.save": {},
    "dns-redirect-nft-flavour.save": {},
    "docker-manual.sh": {},
    "fivem-antiddos-synproxy.sh": {},
    "dual-stack-vars-modprobe.sh": {},
    "freifunk-server.save": {},
    "hashlimit-syn-flood.sh": {},
    "init-functions-flattened.sh": {},
    "ip6-router-insert.sh": {},
    "ip6-nat-owner-redirect.save": {},
    "ip6-router-protocol-numbers.sh": {},
    "iptv-pkttype-vlan-nft-flavour.save": {},
    "k8s-toy-proxy-statistic-sourced.sh": {     # `source ../ENV` (not published): values given
        "skip_unknown": True,
        "variables": (("L4", "tcp"), ("SVC_IP", "10.96.7.20"), ("SVC_PORT", "80"),
                      ("BACKEND_A", "10.244.3.15"), ("BACKEND_B", "10.244.4.9"))},
    "kube-proxy-clusterip.save": {},
    "long-options-nat.sh": {},
    "nat-old-helpers.sh": {},
    "openvpn-server-tun-plus.save": {},    # its last COMMIT has no newline: a warning
    "openwrt-ttl-check-or-insert.sh": {},
    "policy-routing-sourced.sh": {      # refused as it is (`. ./uplinks.conf`); with its hint:
        "skip_unknown": True,
        "variables": (("wan1_net", "198.51.100.0/24"), ("wan1_if", "wan1"),
                      ("wan1_addr", "198.51.100.2"), ("wan1_router", "198.51.100.1"),
                      ("wan2_if", "wan2"), ("inside_net", "192.168.40.0/24"))},
    "portscan-recent.sh": {},
    "prosody-icmpv6-limit.v6": {},
    "pptp-docker.save": {},
    "rhel-firewall-1-input.save": {},
    "router-dnat.save": {},
    "router-forward-no-newline.save": {},
    "scan-flags-echo.sh": {},
    "set-e-save-redirect.sh": {},
    "shadowsocks-redirect.save": {},
    "tor-relay-hand-edited.save": {},
    "tproxy-host-bits.sh": {},
    "ufw-before-rules-complete.save": {},
    "vpn-killswitch-chain-line-comment.save": {},
    "web-dnat-docker.save": {},
    "wireguard-endpoint.save": {},
    "wireguard-nat-ip6-reject.sh": {},
}

# file → (line, column, words of the first error's message, why); options as in CONVERTS
REFUSED = {
    "access-point-tor.sh": (6, 1, "unknown command `sh'", "static"),
    "anti-portscan-ipset-raw.save": (13, 1, "the type and members of ipset portscanners4 are "
                                     "not known", "exact"),
    "chain-file-unset-vars.sh": (2, 1, "variable `IPT' is not set by the script", "static"),
    "course-notes-save-restore.sh": (5, 1, "unknown command `apt-get'", "static"),
    "dnscrypt-ip6-ipv4-address.sh": (3, 87, "`[::1]:5300' is a pathname pattern", "static"),
    "docker-forward-no-chains.sh": (5, 24, "Couldn't load target `DOCKER-USER'", "iptables"),
    "ecs-boothook-heredoc.sh": (3, 1, "unknown command `yum'", "static"),
    "eksctl-disable-imds.sh": (7, 1, "unknown command `yum'", "static"),
    "gateway-ffrl-rules.v6": (6, 1, "TCPMSS also adds an MSS option", "exact"),
    "gateway-tos-route.sh": (21, 1, "TOS 0x10/0x3f changes part of the DSCP bits", "exact"),
    "geph-vpn-routing.sh": (4, 57, "command substitution `id -u`", "static"),
    "init-functions-case.sh": (7, 1, "cannot evaluate a shell function definition", "static"),
    "ip6-icmpv6-rt-segsleft.sh": (19, 1, "-m ipv6header has no exact nft equivalent", "exact"),
    "istio-ztunnel-mangle.save": (16, 1, "--save-mark keeping part of the destination mark",
                                  "exact"),
    "knock-three-stage.sh": (15, 18, "Couldn't load match `--state'", "iptables"),
    "kubeadm-flannel-libvirt-docker.save": (8, 1, "-j CHECKSUM has no exact nft equivalent",
                                            "exact"),
    "mail-block-en-dash.sh": (7, 40, "Bad argument `–dport'", "iptables"),
    "mail-block-multiport-dport.sh": (6, 1, "unknown command `service'", "static"),
    "mangle-tcpmss-connlimit-sudo.sh": (6, 6, "! --mss also matches every TCP packet without",
                                        "exact"),
    "multipath-hostnames-counters.save": (24, 46, "`sip.example.net' is a host name",
                                          "static"),
    "openvpn-container-start.sh": (4, 1, "unknown command `mknod'", "static"),
    "openwireless-account-target.sh": (14, 32, 'unknown option "--addr"', "iptables"),
    "owner-uid-backquote.sh": (8, 45, "variable `UID' has no known value (line 5", "static"),
    "portscan-hitcount.sh": (4, 1, "--hitcount 12", "exact"),
    "pppoe-server-ipset.save": (8, 1, "ipset subscribers-nat are not known",
                                "exact"),
    "squid-gateway-long-options.save": (33, 1, "-m string has no exact nft equivalent", "exact"),
    "sshguard-restore-commands.save": (3, 4, "-P requires a chain and a policy", "iptables"),
    "standalone-if-stop.sh": (18, 1, "cannot evaluate an if statement", "static"),
    "tproxy-socket-divert.sh": (8, 1, "-m socket has no exact nft equivalent", "exact"),
    "ufw-before-rules.save": (11, 55, "Couldn't load target `ufw-logging-deny'", "iptables"),
}

OPTIONS = {"knock-three-stage.sh": {"variables": (("IPT", "iptables"),)}}

# the "iptables" refusals, run against iptables-legacy in a scratch namespace
IPTABLES_REJECTS = {
    "docker-forward-no-chains.sh": ["iptables-legacy", "-A", "FORWARD", "-j", "DOCKER-USER"],
    "knock-three-stage.sh": ["iptables-legacy", "-A", "INPUT", "-m", "--state",
                             "ESTABLISHED,RELATED", "-j", "ACCEPT"],
    "mail-block-en-dash.sh": ["iptables-legacy", "-A", "OUTPUT", "-p", "tcp", "-m", "multiport",
                              "–dport", "25,110", "-j", "REJECT"],
    "openwireless-account-target.sh": ["iptables-legacy", "-I", "FORWARD", "-j", "ACCOUNT",
                                       "--addr", "0.0.0.0/0", "--tname", "all-traffic"],
    "sshguard-restore-commands.save": ["iptables-legacy", "-P", "DROP"],
    "ufw-before-rules.save": ["iptables-legacy", "-A", "INPUT", "-j", "ufw-logging-deny"],
}


def _convert(name: str, **fields) -> str:
    path = REALWORLD / name
    options = ConvertOptions(**{**OPTIONS.get(name, {}), **CONVERTS.get(name, {}), **fields})
    return convert(path.read_text(), f"tests/realworld/{name}", options).output


def test_every_file_has_an_expected_outcome():
    files = {p.name for p in REALWORLD.iterdir()}
    assert files == set(CONVERTS) | set(REFUSED)
    assert not set(CONVERTS) & set(REFUSED)
    assert set(IPTABLES_REJECTS) == {n for n, (*_, why) in REFUSED.items() if why == "iptables"}


@pytest.mark.parametrize("name", sorted(p.name for p in REALWORLD.iterdir()))
def test_each_file_names_what_it_is_modelled_on(name):
    head = (REALWORLD / name).read_text().split("\n")[:3]
    assert any(line.startswith("# modelled on: ") for line in head)


@pytest.mark.parametrize("name", sorted(CONVERTS))
def test_converts_and_loads(netns, name):
    text = _convert(name)
    netns.nft("-c", "-f", "-", input=text)


@pytest.mark.parametrize("name", sorted(CONVERTS))
def test_round_trips_through_the_kernel(kernel, name):
    """What the kernel lists after loading the nft file, and what iptables-restore makes of the
    restore text, read back as the input (fwmigrate verify)."""
    options = ConvertOptions(**{**OPTIONS.get(name, {}), **CONVERTS[name]})
    report = round_trip((REALWORLD / name).read_text(), name, options)
    assert report.ok, [c.describe() for c in report.kernel + report.restore]


@pytest.mark.parametrize("name", sorted(CONVERTS))
def test_converts_to_iptables_restore(name):
    try:
        assert "COMMIT" in _convert(name, to="iptables-restore")
    except FwmigrateError as exc:       # both families: one restore file each
        assert "only one family" in exc.render()
        for family in ("ip", "ip6"):
            assert "COMMIT" in _convert(name, to="iptables-restore", family=family)


def test_a_sourced_file_is_refused_without_its_variables():
    with pytest.raises(FwmigrateError) as caught:
        _convert("policy-routing-sourced.sh", skip_unknown=False, variables=())
    first = caught.value.diagnostics[0]
    assert (first.loc.line, first.loc.col) == (3, 1)
    assert "runs the commands of another file" in first.message


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_at_the_right_place_with_a_reason(name):
    line, column, words, _why = REFUSED[name]
    with pytest.raises(FwmigrateError) as caught:
        _convert(name)
    errors = [d for d in caught.value.diagnostics if d.severity == "error"]
    first = min(errors, key=lambda d: (d.loc.line, d.loc.col))
    assert (first.loc.file, first.loc.line, first.loc.col) == (
        f"tests/realworld/{name}", line, column), first.render()
    assert words in first.message, first.render()
    assert all(d.hint or "cannot translate" in d.message for d in errors), \
        [d.render() for d in errors if not d.hint]


@pytest.mark.parametrize("name", sorted(IPTABLES_REJECTS))
def test_iptables_itself_rejects(netns, name):
    result = netns.run(*IPTABLES_REJECTS[name], check=False)
    assert result.returncode != 0, result
