"""More clauses for the match fuzzer's rules (bench/fuzz_rules.py): IPv6 extension headers, and
tests whose answer does not depend on the packet's bytes but is the same on both sides for one
packet (the CPU, the clock, a quota far from used up, the sender's MAC, IPsec policy)."""

from __future__ import annotations

from fuzz_values import _f, bang, near, span

# --- IPv6 extension headers ----------------------------------------------------------------------

def exthdr(rng, pkt, six, tags):
    module = rng.choice(["frag", "hbh", "dst", "rt", "mh", "ah"])
    if module == "frag":
        words = ["-m", "frag"]
        if rng.random() < 0.6:
            words += [*bang(rng), "--fragid", span(rng, _f(pkt, "frag_id", 1), 0, 2**32 - 1)]
        for flag in rng.sample(["--fragres", "--fragfirst", "--fragmore", "--fraglast"],
                               rng.choice([0, 1, 2])):
            words.append(flag)
        if rng.random() < 0.1:
            words += ["--fraglen", "8"]
        return words
    if module in ("hbh", "dst"):
        words = ["-m", module]
        if rng.random() < 0.8:
            size = near(rng, _f(pkt, f"{module}_len", 8), 0, 2048)
            words += [*bang(rng), f"--{module}-len", str(size)]
        return words
    if module == "rt":
        words = ["-m", "rt"]
        for option, key, default in (("--rt-type", "rt_type", 0),
                                     ("--rt-segsleft", "rt_segsleft", 1),
                                     ("--rt-len", "rt_len", 8)):
            if rng.random() < 0.5:
                value = near(rng, _f(pkt, key, default), 0, 255)
                text = span(rng, value, 0, 255, open_ends=False) if key == "rt_segsleft" \
                    else str(value)
                words += [*bang(rng), option, text]
        return words
    if module == "mh":
        tags.add("mh")
        return ["-p", "mh", "-m", "mh", *bang(rng), "--mh-type",
                span(rng, _f(pkt, "mh_type", 1), 0, 255, open_ends=False)]
    words = ["-m", "ah"]
    if rng.random() < 0.7:
        words += [*bang(rng), "--ahspi", span(rng, _f(pkt, "spi", 1), 0, 2**32 - 1,
                                              open_ends=False)]
    if rng.random() < 0.4:
        words += [*bang(rng), "--ahlen", str(near(rng, (_f(pkt, "ah_len", 1) + 2) * 4, 0, 64))]
    if rng.random() < 0.2:
        words.append("--ahres")
    return words


def cpu(rng, pkt, six):
    # the CPU that handles the packet: both sides see the same one
    return ["-m", "cpu", *bang(rng), "--cpu", rng.choice(["0", "1", "2"])]


def when(rng, pkt, six):
    """-m time: both sides read the clock for the same packet, so any bounds do."""
    words = ["-m", "time"]
    if rng.random() < 0.6:
        start, stop = rng.randint(0, 23), rng.randint(0, 23)
        words += ["--timestart", f"{start:02d}:{rng.choice(['00', '30'])}",
                  "--timestop", f"{stop:02d}:{rng.choice(['00', '59:59'])}"]
        if rng.random() < 0.2:
            words.append("--contiguous")
    if rng.random() < 0.5 or len(words) == 2:
        words += rng.choice([["--datestart", "2020-01-01"], ["--datestop", "2021-06-01"],
                             ["--datestart", "2030-01-01T10:00:00"],
                             ["--datestart", "2024-02-29", "--datestop", "2037-12-31"]])
    return words


def quota(rng, pkt, six):
    # far more bytes than a campaign sends: every packet is under it
    return ["-m", "quota", *bang(rng), "--quota", rng.choice(["4000000000", "99999999999"])]


MAC = ["00:00:00:00:00:00"]                  # fwx0's address, set by the campaign


def mac(rng, pkt, six):
    value = rng.choice([MAC[0], MAC[0], "02:00:00:00:00:01", MAC[0].upper()])
    return ["-m", "mac", *bang(rng), "--mac-source", value]


def policy(rng, pkt, six):
    return ["-m", "policy", "--dir", "in", "--pol", rng.choice(["none", "ipsec"])]


def comment(rng, pkt, six):
    return ["-m", "comment", "--comment", rng.choice(["x", "fuzz rule"])]
