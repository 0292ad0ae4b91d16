"""What is known of the *.txlate vectors whose listings differ: the ones a kernel test proves
the reference wrong on (reference-wrong), and why the others differ (printed by `-v`)."""

# *different* vectors where a kernel test sends packets through the iptables rule, the
# reference's nft and ours, and ours counts what iptables counts where the reference's does not:
# reported as reference-wrong, with the test that shows it.
REFERENCE_WRONG = {
    **{f"libip6t_{v}": "tests/test_reference_wrong.py::test_ipv6_header_fields"
       for v in ("ah.txlate:7", "ah.txlate:10", "ah.txlate:13", "ah.txlate:16", "hbh.txlate:4",
                 "rt.txlate:4", "frag.txlate:4", "mh.txlate:1", "mh.txlate:4")},
    "libxt_CONNMARK.txlate:7": "tests/test_reference_wrong.py::"
                               "test_connmark_set_xmark_with_overlapping_value_and_mask",
    "libxt_CONNMARK.txlate:22": "tests/test_reference_wrong.py::"
                                "test_connmark_set_mark_masks_before_it_shifts",
    "libxt_conntrack.txlate:46": "tests/test_reference_wrong.py::"
                                 "test_ctexpire_compares_whole_seconds",
    "libxt_SYNPROXY.txlate:1": "tests/test_reference_wrong.py::"
                               "test_synproxy_passes_on_what_is_not_a_lone_syn_or_ack",
    "libxt_devgroup.txlate:16": "tests/test_reference_wrong.py::"
                                "test_devgroup_inverts_the_source_group_only",
    **{v: "tests/test_reference_wrong.py::test_a_set_without_size_is_full_at_65535"
       for v in ("libxt_connlimit.txlate:1", "libxt_connlimit.txlate:5",
                 "libxt_connlimit.txlate:9", "libxt_connlimit.txlate:13",
                 "libxt_hashlimit.txlate:4")},
}

# Vectors where fwmigrate differs from the reference on purpose: what the kernel does with the
# reference's rule is not what the iptables rule does. Printed with the results.
DELIBERATE = {
    "libxt_CONNMARK.txlate": "--set-xmark v/m is ctmark = (ctmark & ~m) ^ v (--set-mark v/m "
                             "the same with mask m|v); the reference xors first and masks "
                             "after, which differs where v and m overlap",
    "libxt_devgroup.txlate:16": "the reference inverts --dst-group too, where only --src-group "
                                "has `!`",
    "libxt_conntrack.txlate:46": "--ctexpire 3 matches a remaining time of 3000-3999 ms (xt "
                                 "rounds down to whole seconds); the reference's `ct "
                                 "expiration 3` is 3000 ms exactly",
    "libxt_conntrack.txlate:52": "--ctexpire 10 is 10000-10999 ms, not `ct expiration 10` "
                                 "(10000 ms exactly; line 46 is shown in the kernel); no "
                                 "packet shows it here: --ctstate NEW and --ctstatus "
                                 "SEEN_REPLY never hold together, so all three rules match "
                                 "nothing",
    "libxt_SYNPROXY.txlate": "nft's synproxy takes any packet with SYN as a SYN and any with "
                             "ACK as an ACK (a SYN-ACK is answered, a FIN-ACK dropped), where "
                             "xt_SYNPROXY acts on a lone SYN or ACK and passes the rest on: "
                             "fwmigrate tests the flags first",
    "libxt_tcp.txlate:31": "! --tcp-option: nft's `missing` also holds without a readable TCP "
                           "header, where xt_tcp fails; fwmigrate tests the header first (tcp "
                           "dport 0-65535), which keeps out packets too short for the ports "
                           "(the reference's rule matches those) but not TCP headers of 8 to "
                           "19 bytes or with options cut short, nor later IPv4 fragments "
                           "(nft's payload fast path reads their payload as a header): for "
                           "those both nft rules match and xt_tcp does not (README, known "
                           "differences; tests/test_xt_parity_kernel.py)",
    "libxt_time.txlate": "xt_time compares whole seconds: --datestop D holds until D + 1 s "
                         "(nft: meta time < D+1; the reference's range ends at D.000000000), "
                         "and iptables' default --datestop 2038-01-19T03:14:07 is a bound the "
                         "kernel applies, which the reference leaves out with --timestart/stop",
    "libip6t_ah.txlate": "ip6t_ah's --ahlen is the whole header in bytes, (hdrlength + 2) * 4 "
                         "in nft's terms, and --ahres means the reserved field is 0; the "
                         "reference compares the raw length field and tests reserved == 1",
    "libip6t_frag.txlate:4": "ip6t_frag's --fragres means the reserved byte and the two "
                             "reserved bits of the offset field are 0 (frag reserved 0 frag "
                             "reserved2 0); the reference tests reserved == 1",
    "libip6t_hbh.txlate:4": "--hbh-len is the whole header in bytes, (hdrlength + 1) * 8: no "
                            "header is 22 bytes long, so ! --hbh-len 22 holds for every one "
                            "(the reference compares the raw length field with 22)",
    "libip6t_rt.txlate:4": "--rt-len is the whole header in bytes, (hdrlength + 1) * 8: no "
                           "header is 22 bytes long, so ! --rt-len 22 holds for every one "
                           "(the reference compares the raw length field with 22)",
    "libip6t_mh.txlate": "ip6tables' -p mh finds the mobility header past an AH header, as "
                         "nft's `mh type` (an extension header lookup) does; the reference's "
                         "`meta l4proto mobility-header` stops at AH (tests/"
                         "test_exthdr_kernel.py sends such a packet)",
    "libxt_connlimit.txlate": "the reference's set has no size, and the kernel gives a set "
                              "that a rule adds to 65535 elements (nft_dynset_init): with "
                              "65535 addresses tracked, a new one finds it full and the rule "
                              "does not match, where xt_connlimit (no limit) counts it; "
                              "fwmigrate's set holds 262144, the largest default "
                              "nf_conntrack_max",
    "libxt_hashlimit.txlate:4": "the reference's meter holds 65535 keys (the kernel's size for "
                                "a set without one) and then does not match a new key; "
                                "xt_hashlimit's table holds 65536 by default (8 × 8192 buckets "
                                "on a machine with more than 1 GiB of memory), and fwmigrate "
                                "sizes its set the same (a named timeout set updated by the "
                                "rule, which also lists differently from a meter)",
}
