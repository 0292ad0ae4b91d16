"""-m recent: one list, several rules, one set plan (see fwmigrate/backends/nft_recent.py)."""

import pytest

from fwmigrate.convert import ConvertOptions, convert
from fwmigrate.errors import FwmigrateError


def nft(script, **kw):
    return convert(script, "fw.sh", ConvertOptions(**kw)).output


def test_one_window_gives_one_timeout_set():
    out = nft("iptables -A INPUT -m recent --name SSH --set\n"
              "iptables -A INPUT -m recent --name SSH --update --seconds 60 -j DROP\n")
    assert "set SSH {\n\t\ttype ipv4_addr\n\t\tsize 65535\n\t\tflags dynamic,timeout\n" \
           "\t\ttimeout 60s\n\t}" in out
    assert "update @SSH { ip saddr }\n" in out
    assert "ip saddr @SSH update @SSH { ip saddr } drop" in out


def test_windows_and_plain_checks_keep_one_set_each_all_updated():
    out = nft("iptables -A INPUT -m recent --name L --set\n"
              "iptables -A INPUT -m recent --name L --rcheck --seconds 10 -j DROP\n"
              "iptables -A INPUT -m recent --name L --rcheck --seconds 60 -j LOG\n"
              "iptables -A INPUT -m recent --name L --rcheck -j ACCEPT\n")
    assert "set L {" in out and "set L_10s {" in out and "set L_60s {" in out
    assert "update @L { ip saddr } update @L_10s { ip saddr } update @L_60s { ip saddr }" in out
    assert "ip saddr @L_10s drop" in out and "ip saddr @L_60s log" in out
    assert "ip saddr @L accept" in out


def test_remove_whose_result_matters_reads_the_base_set():
    out = nft("iptables -A INPUT -m recent --name L --set\n"
              "iptables -A INPUT -m recent --name L --rcheck --seconds 5 -j DROP\n"
              "iptables -A INPUT -m recent --name L --remove -j ACCEPT\n")
    assert "ip saddr @L delete @L { ip saddr } delete @L_5s { ip saddr } accept" in out


def test_mask_and_rdest():
    out = nft("iptables -A INPUT -m recent --name N --rdest --mask 255.255.0.0 --set\n"
              "iptables -A INPUT -m recent --name N --rdest --mask 255.255.0.0 --rcheck -j DROP\n")
    assert "update @N { ip daddr & 255.255.0.0 }" in out
    assert "ip daddr & 255.255.0.0 @N drop" in out


def test_different_masks_on_one_list_are_refused():
    with pytest.raises(FwmigrateError) as info:
        nft("iptables -A INPUT -m recent --name N --mask 255.255.0.0 --set\n"
            "iptables -A INPUT -m recent --name N --rcheck -j DROP\n")
    assert "different --mask values" in info.value.render()


def test_ip6_lists_are_ipv6_sets():
    out = nft("ip6tables -A INPUT -m recent --name K6 --set\n")
    assert "table ip6 fwmigrate" in out and "type ipv6_addr" in out
    assert "update @K6 { ip6 saddr }" in out


def test_hitcount_refused_exactly_approximated_on_request():
    script = ("iptables -A INPUT -p tcp --dport 22 -m conntrack --ctstate NEW -m recent "
              "--name SSH --set\n"
              "iptables -A INPUT -p tcp --dport 22 -m conntrack --ctstate NEW -m recent "
              "--name SSH --update --seconds 60 --hitcount 4 -j DROP\n")
    with pytest.raises(FwmigrateError) as info:
        nft(script)
    assert "--hitcount 4" in info.value.render()
    out = nft(script, approximate=True)
    assert "update @SSH_hits4_60s { ip saddr limit rate over 3/minute burst 3 packets }" in out
    assert "# APPROXIMATED:" in out


def test_list_names_nft_cannot_write_are_renamed_and_reported():
    out = nft("iptables -A INPUT -m recent --name log --set\n")
    assert "set log_ {" in out
    assert "set log is called log_ in nft" in out
