"""Differential tests against the real kernel: the original rules loaded with iptables-legacy,
fwmigrate's translation loaded with nft, the same probes through both (see differential.py).

Also the other direction of trust: the equivalence checker's verdicts are checked against the
kernel — differences it reports happen on real packets, and rulesets it calls equivalent show
no difference on real packets."""

from __future__ import annotations

import ipaddress

import pytest
from differential import (
    ADDRESSES,
    INTERFACE_OF,
    Probe,
    compare,
    docker_probes,
    fwmigrate_nft,
    knock_probes,
    load_legacy,
    load_nft,
    network,
    recent_lists,
    restore_translate,
    run_scenario,
    scenario,
    seed_recent,
    standard_probes,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fwmigrate.convert import ConvertOptions, convert, read
from fwmigrate.errors import Diagnostics
from fwmigrate.verify.equiv import check, example, under_limits
from fwmigrate.verify.sources import read_any
from fwmigrate.verify.space import Space, collect

from conftest import SAMPLES

pytestmark = pytest.mark.kernel


@pytest.fixture
def kernel(netns):
    """Only for the skip/fail logic of conftest's netns fixture (root, ip, nft)."""
    return netns


def legacy(save_text):
    return lambda fw: load_legacy(fw, save_text)


def nft(text):
    return lambda fw: load_nft(fw, text)


@pytest.mark.parametrize("name", ["tutorial", "nat-gateway", "dual-stack", "mangle-raw"])
def test_samples_behave_the_same_in_the_kernel(kernel, name):
    save = (SAMPLES / f"{name}.save").read_text()
    source = SAMPLES / f"{name}.sh"
    source = source if source.exists() else SAMPLES / f"{name}.save"
    steps = scenario(standard_probes(), knock_probes() if name == "tutorial" else [])
    mismatches = compare(legacy(save), nft(fwmigrate_nft(str(source))), steps)
    assert not mismatches, "\n".join(map(str, mismatches))


def test_the_docker_host_behaves_the_same_in_the_kernel(kernel):
    """The Docker sample on a firewall that is a Docker host (two container namespaces behind
    docker0 and a user-defined bridge); the legacy run must show what Docker's rules do, or
    the comparison would prove little."""
    path = SAMPLES / "docker-host.save"
    steps = scenario(docker_probes() + standard_probes())
    probes = [p for step in steps for p in step]
    a = run_scenario(legacy(path.read_text()), steps, containers=True)
    b = run_scenario(nft(fwmigrate_nft(str(path))), steps, containers=True)
    mismatches = [f"{p}: {x} vs {y}" for p, x, y in zip(probes, a, b, strict=True) if x != y]
    assert not mismatches, "\n".join(mismatches)
    seen = {str(p): x for p, x in zip(probes, a, strict=True)}
    expected = {
        # published ports: DNAT in PREROUTING and, for the host itself, OUTPUT
        "tcp wan 203.0.113.50 > 203.0.113.1:8080": "open 172.17.0.2 203.0.113.50",
        "tcp fw 203.0.113.1 > 203.0.113.1:8080": "open 172.17.0.2 203.0.113.1",
        "tcp lan 192.168.10.2 > 192.168.10.1:5432": "open 172.18.0.2 192.168.10.2",
        # DOCKER-USER: the published database only from the LAN (conntrack original port)
        "tcp wan 203.0.113.50 > 203.0.113.1:5432": "timeout",
        # containers go out masqueraded, reach the host's exporter, not each other
        "tcp ctr 172.17.0.2 > 203.0.113.50:80": "open 203.0.113.50 203.0.113.1",
        "tcp ctr 172.17.0.2 > 172.17.0.1:9100": "open 172.17.0.1 172.17.0.2",
        "tcp ctr2 172.18.0.2 > 172.18.0.1:9100": "refused",
        "tcp ctr 172.17.0.2 > 172.18.0.2:5432": "timeout",
        # nat DOCKER returns for a bridge's own traffic: no DNAT to a published port
        "tcp ctr 172.17.0.2 > 203.0.113.1:8080": "refused",
    }
    for probe, outcome in expected.items():
        assert seen[probe].startswith(outcome), (probe, seen[probe])


def test_the_harness_catches_the_reference_translators_lost_knocks(kernel):
    """iptables-restore-translate leaves `-m recent` rules as comments: the knock sequence no
    longer opens SSH. The harness must see exactly that."""
    save_path = SAMPLES / "tutorial.save"
    steps = scenario(standard_probes(), knock_probes())
    mismatches = compare(legacy(save_path.read_text()), nft(restore_translate(str(save_path))),
                         steps)
    assert mismatches
    for m in mismatches:
        assert (m.probe.kind, m.probe.port, m.a.split()[0], m.b) == ("tcp", 22, "open",
                                                                     "timeout"), str(m)


# --- the equivalence checker against the kernel ------------------------------------------------

def _client_side(iif):
    return {v: k for k, v in INTERFACE_OF.items()}.get(iif)


def _preferences(hook: str, side: str) -> dict[str, list]:
    """Concrete values that exist in the test network for a packet sent from `side` (lan or
    wan; the firewall itself for the output hook), most useful first."""
    ip = ipaddress.ip_address
    v4 = {role: [ip(a) for a in addrs if "." in a] for role, addrs in ADDRESSES.items()}
    other = "wan" if side == "lan" else "lan"
    prefer = {"proto": [6, 17, 1], "icmp_type": [8], "ct_state": ["NEW"],
              "tcp_flags": [frozenset({"SYN"})], "fragment": [False],
              # ports: the listeners' first, then 1 and 40000 (port 0 is not a real probe)
              "sport": [40000, 1], "dport": [22, 80, 53, 1234, 12345, 23456, 34567, 1, 40000]}
    if hook == "output":
        prefer.update(iif=[""], oif=[INTERFACE_OF[side]], saddr=v4["fw"], daddr=v4[side])
    elif hook == "input":
        prefer.update(iif=[INTERFACE_OF[side]], oif=[""], saddr=v4[side], daddr=v4["fw"])
    else:
        prefer.update(iif=[INTERFACE_OF[side]], oif=[INTERFACE_OF[other]], saddr=v4[side],
                      daddr=v4[other])
    return prefer


def realize(space: Space, hook: str, cube: tuple):
    """A probe that sends a packet of the cube in the test network (and the recent lists its
    source must be on first), or None with the reason it cannot be sent."""
    if not under_limits(space, cube):
        return None, "needs a rate limit over its rate"
    why = "not an input, forward or output packet"
    for side in ("lan", "wan"):
        if hook not in ("input", "forward", "output"):
            break
        realized, why = _realize(space, hook, cube, side)
        if realized:
            return realized, None
    return None, why


def _realize(space: Space, hook: str, cube: tuple, side: str):
    p = example(space, cube, _preferences(hook, side))
    if p.ct_state != "new" or p.fragment:
        return None, f"needs ct state {p.ct_state}{' fragment' if p.fragment else ''}"
    if p.proto == 6 and p.tcp_flags not in (None, frozenset({"SYN"})):
        return None, "needs TCP flags other than a SYN"
    kind = {6: "tcp", 17: "udp"}.get(p.proto) or ("ping" if p.proto == 1 and p.icmp_type == 8
                                                  else None)
    if kind is None:
        return None, f"needs protocol {p.proto}"
    src, dst = str(p.saddr), str(p.daddr)
    origin = "fw" if hook == "output" else _client_side(p.iif)
    if origin is None or src not in ADDRESSES[origin]:
        return None, f"needs source {src} on {p.iif or 'the firewall'}"
    to = "fw" if hook == "input" else _client_side(p.oif)
    if to is None or dst not in ADDRESSES[to] or (hook == "forward" and to == origin):
        return None, f"needs destination {dst} via {p.oif or 'the firewall'}"
    if any(a != p.saddr for members in p.recent.values() for a in members):
        return None, "needs a recent list entry for another address"
    port = p.dport if kind != "ping" else 0
    sport = p.sport if kind != "ping" else 0
    return (Probe(kind, origin, src, dst, port, sport), tuple(sorted(p.recent))), None


def observe(load, probe: Probe, seeded: tuple, lists: list[str]):
    """Probe result and the recent lists the probe's source joined or left."""
    with network(load) as net:
        fw = net.ns["fw"]
        for name in seeded:
            seed_recent(fw, name, probe.src)
        before = {n for n, held in recent_lists(fw, lists).items() if probe.src in held}
        result = net.probe(probe)
        after = {n for n, held in recent_lists(fw, lists).items() if probe.src in held}
    return result, frozenset(after - before), frozenset(before - after)


def test_differences_the_checker_reports_happen_in_the_kernel(kernel):
    save_path = SAMPLES / "tutorial.save"
    a = read((SAMPLES / "tutorial.sh").read_text(), "tutorial.sh", ConvertOptions())[0]
    translated = restore_translate(str(save_path))
    b = read_any(translated, "translated", Diagnostics())
    results = check(a, b, max_differences=500)
    space = Space("ip")
    collect(space, a)
    collect(space, b)
    space.freeze()
    lists = sorted({name.split(":")[1] for name in space.order if name.startswith("recent:")})
    differences = [d for r in results for d in r.differences]
    assert differences
    probes, unrealizable = {}, []
    for d in differences:
        if d.aspects == ("actions",):
            unrealizable.append("differs only in what it logs")
            continue
        realized, why = realize(space, d.hook, d.cube)
        if realized is None:
            unrealizable.append(why)
        else:
            probes.setdefault(realized, d)
    assert len(probes) >= 3, unrealizable
    for (probe, seeded), d in probes.items():
        got_a = observe(legacy(save_path.read_text()), probe, seeded, lists)
        got_b = observe(nft(translated), probe, seeded, lists)
        assert got_a != got_b, (probe, seeded, d.outcome_a, d.outcome_b, got_a)


# random rulesets over the test network's addresses, interfaces and ports
RULE_PARTS = [
    "-p tcp --dport 22", "-p tcp --dport 80", "-p udp --dport 53", "-p tcp --dport 1000:2000",
    "-s 192.168.10.0/24", "-s 192.168.10.20", "! -s 192.168.10.2", "-s 198.51.100.0/24",
    "-d 203.0.113.50", "-i eth1", "-i eth+", "! -i eth0", "-o eth0",
    "-p icmp --icmp-type echo-request", "-m conntrack --ctstate NEW", "-p tcp --syn",
    "-p tcp -m multiport --dports 22,80,1234", "-p udp -m multiport --dports 53,1234",
    "-m recent --name L --rcheck", "-p tcp --dport 80 -m recent --name L --set",
]
TARGETS = ["-j ACCEPT", "-j DROP", "-j RETURN", "-j SUB", "-j REJECT", "-j LOG",
           "-j REJECT --reject-with tcp-reset -p tcp"]


@st.composite
def rulesets(draw):
    lines = ["*filter", ":INPUT ACCEPT [0:0]", ":FORWARD ACCEPT [0:0]", ":OUTPUT ACCEPT [0:0]",
             ":SUB - [0:0]"]
    policies = {}
    for chain in ("INPUT", "FORWARD", "SUB"):
        for _ in range(draw(st.integers(1 if chain != "SUB" else 0, 6))):
            usable = [p for p in RULE_PARTS if chain == "FORWARD" or "-o " not in p]
            drawn = draw(st.lists(st.sampled_from(usable), min_size=1, max_size=2, unique=True))
            parts, used = [], set()
            for part in drawn:       # one of each option (iptables refuses two -s, -p …)
                words = part.replace("! ", "").split()
                key = "-p" if "-p " in part else " ".join(words[:2] if words[0] == "-m" else
                                                          words[:1])
                if key not in used:
                    used.add(key)
                    parts.append(part)
            target = draw(st.sampled_from(TARGETS if chain != "SUB" else TARGETS[:3]))
            if "-p tcp" in target:
                if any("-p " in p and "-p tcp" not in p for p in parts):
                    target = "-j DROP"
                else:
                    target = target.replace(" -p tcp", "")
                    if not any("-p tcp" in p for p in parts):
                        parts.append("-p tcp")
            lines.append(f"-A {chain} {' '.join(parts)} {target}")
        if chain != "SUB":
            policies[chain] = draw(st.sampled_from(["ACCEPT", "DROP"]))
    for chain, policy in policies.items():
        lines[lines.index(f":{chain} ACCEPT [0:0]")] = f":{chain} {policy} [0:0]"
    return "\n".join(lines + ["COMMIT"]) + "\n"


def probes_from_atoms(space: Space, rng) -> list[Probe]:
    """Realizable packets of random single-atom cubes: one atom per field, preferring the
    values that exist in the test network."""
    probes = []
    for hook in ("input", "forward"):
        for _ in range(60):
            cube = tuple(1 << rng.randrange(space.fields[n].count) for n in space.order)
            cube = tuple(c if not n.startswith(("limit:", "recent:")) else space.full[k]
                         for k, (n, c) in enumerate(zip(space.order, cube, strict=True)))
            realized, _why = realize(space, hook, cube)
            if realized and realized[0] not in probes and not realized[1]:
                probes.append(realized[0])
    return probes


@settings(max_examples=6, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(save=rulesets(), seed=st.integers(0, 2**16))
def test_rulesets_judged_equivalent_behave_the_same_in_the_kernel(kernel, tmp_path, save, seed):
    import random
    source = tmp_path / "random.save"
    source.write_text(save)
    a = read(save, "random.save", ConvertOptions())[0]
    translated = fwmigrate_nft(str(source))
    b = read_any(translated, "translated", Diagnostics())
    assert all(not r.differences for r in check(a, b)), save
    space = Space("ip")
    collect(space, a)
    space.freeze()
    probes = probes_from_atoms(space, random.Random(seed))
    assert probes
    # probes that touch a recent list depend on their order: send those one by one
    steps = scenario([], probes) if "recent" in save else scenario(probes)
    mismatches = compare(legacy(save), nft(translated), steps)
    assert not mismatches, save + "\n".join(map(str, mismatches))


def test_tcpmss_with_an_mss_test_behaves_the_same_in_the_kernel(kernel):
    """TCPMSS on SYNs that carry an MSS (-m tcpmss): clamping to a route with a lower MTU and
    --set-mss give the same MSS under iptables-legacy and our nft; the listener reports it."""
    save = ("*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n"
            ":OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"
            "-A FORWARD -p tcp -m tcp --tcp-flags SYN,RST SYN -m tcpmss --mss 1000:65535 "
            "-j TCPMSS --clamp-mss-to-pmtu\n"
            "-A FORWARD -d 192.168.10.20/32 -p tcp -m tcp --tcp-flags SYN,RST SYN -m tcpmss "
            "--mss 1201:65535 -j TCPMSS --set-mss 1200\nCOMMIT\n")

    def narrow_route(then):
        def load(fw):
            fw.run("ip", "route", "replace", "198.51.100.0/24", "via", "203.0.113.50", "mtu",
                   "1300")
            then(fw)
        return load

    probes = [Probe("tcp", "lan", "192.168.10.2", "198.51.100.7", 80),
              Probe("tcp", "lan", "192.168.10.2", "203.0.113.50", 80),
              Probe("tcp", "wan", "203.0.113.50", "192.168.10.20", 80),
              Probe("tcp", "wan", "198.51.100.7", "192.168.10.2", 80)]
    steps = scenario(probes)
    translated = convert(save, "tcpmss.save", ConvertOptions()).output
    a = run_scenario(narrow_route(legacy(save)), steps)
    b = run_scenario(narrow_route(nft(translated)), steps)
    assert a == b, (a, b)
    # 1300 - 40 = 1260 and 1200, less 12 bytes of timestamps; 1448 untouched
    assert [x.split()[-1] for x in a] == ["mss=1248", "mss=1448", "mss=1188", "mss=1248"], a


def test_hashlimit_and_connlimit_behave_the_same_in_the_kernel(kernel, tmp_path):
    """Per-source buckets: a burst of 2 then silence for each source, the same under
    iptables-legacy and fwmigrate's nft (connlimit's held connections: tests/test_limits.py)."""
    save = ("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
            "-A INPUT -p udp -m udp --dport 1234 -m hashlimit --hashlimit-above 1/min "
            "--hashlimit-burst 2 --hashlimit-mode srcip --hashlimit-name h "
            "--hashlimit-htable-expire 120000 -j DROP\n"
            "-A INPUT -p tcp -m tcp --dport 80 -m connlimit --connlimit-above 5 -j DROP\n"
            "COMMIT\n")
    (tmp_path / "fw.save").write_text(save)
    me, other, fw = "192.168.10.2", "192.168.10.20", "192.168.10.1"
    ordered = [Probe("udp", "lan", src, fw, 1234) for src in (me, me, me, other, me, other,
                                                              other)]
    ordered += [Probe("tcp", "lan", me, fw, 80)]
    steps = scenario([], ordered)
    translated = fwmigrate_nft(str(tmp_path / "fw.save"))
    assert not compare(legacy(save), nft(translated), steps)
    # the limit acts: each source's third datagram goes unanswered
    kinds = [o.split()[0] for o in run_scenario(nft(translated), steps)]
    assert kinds[:7] == ["answered"] * 2 + [kinds[2]] + ["answered"] + [kinds[2]] + \
        ["answered", kinds[2]]
    assert kinds[2] != "answered"
