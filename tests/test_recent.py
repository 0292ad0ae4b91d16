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


# --- capacity (issue 5): every set's size is explicit and says where it came from ----------

def test_sets_are_sized_by_the_documented_default_and_say_so():
    out = nft("iptables -A INPUT -m recent --name SSH --set\n"
              "iptables -A INPUT -m recent --name SSH --update --seconds 60 -j DROP\n")
    assert "\t# xt_recent list SSH, seen within 60s; size 65535: the --recent-list-size " \
           "default\n\tset SSH {\n\t\ttype ipv4_addr\n\t\tsize 65535\n" in out
    header = out.split("\ntable ")[0]
    assert "# xt_recent keeps 100 per list (ip_list_tot) and forgets the oldest" in header
    assert "a full set takes\n# no new address, and the rule that would add it does not match" \
        in header


def test_list_size_option_sizes_every_set_of_every_list():
    out = nft("iptables -A INPUT -m recent --name A --set\n"
              "iptables -A INPUT -m recent --name A --rcheck --seconds 5 -j DROP\n"
              "iptables -A INPUT -m recent --name A --rcheck -j LOG\n"
              "iptables -A INPUT -p udp -m recent --name B --set\n", recent_list_size=500)
    assert out.count("\t\tsize 500\n") == 3 and "size 65535" not in out
    assert out.count("size 500: --recent-list-size 500\n") == 3


def test_list_size_must_be_positive():
    with pytest.raises(FwmigrateError, match="--recent-list-size"):
        nft("iptables -A INPUT -m recent --name A --set\n", recent_list_size=0)


def test_only_lists_without_a_window_are_said_to_shrink_only_by_remove():
    plain = nft("iptables -A INPUT -m recent --name A --set\n"
                "iptables -A INPUT -m recent --name A --rcheck -j DROP\n")
    windowed = nft("iptables -A INPUT -m recent --name A --set\n"
                   "iptables -A INPUT -m recent --name A --rcheck --seconds 9 -j DROP\n")
    assert "shrinks only by --remove" in plain and "shrinks only by --remove" not in windowed


def test_no_recent_no_capacity_note():
    assert "xt_recent" not in nft("iptables -A INPUT -p tcp --dport 22 -j ACCEPT\n")


def test_cli_option(tmp_path):
    import subprocess
    import sys
    script = tmp_path / "fw.sh"
    script.write_text("iptables -A INPUT -m recent --name A --set -j DROP\n")
    run = [sys.executable, "-m", "fwmigrate", "convert", str(script)]
    out = subprocess.run(run + ["--recent-list-size", "1000"], capture_output=True, text=True)
    assert out.returncode == 0 and "\t\tsize 1000\n" in out.stdout
    bad = subprocess.run(run + ["--recent-list-size", "0"], capture_output=True, text=True)
    assert bad.returncode != 0 and "--recent-list-size" in bad.stderr


# in the kernel: what a full list does in each implementation

_SENDER = """
import socket, sys
out = []
for i in range(2, 2 + int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((f"127.0.0.{i}", 0))
    try:
        s.sendto(b"x", ("127.0.0.1", 9999))
        out.append("passed")
    except PermissionError:          # the output hook dropped it
        out.append("dropped")
    s.close()
print(" ".join(out))
"""
_FULL = "iptables -A OUTPUT -p udp --dport 9999 -m recent --name S --set -j DROP\n"


def _send(ns, count):
    import sys
    return ns.run(sys.executable, "-c", _SENDER, str(count)).stdout.split()


@pytest.mark.kernel
def test_a_full_set_takes_no_new_address_and_that_rule_does_not_match(netns):
    """What the output's note claims: with room for 3, sources 4 and 5 are not added and their
    packets are not dropped; the 3 addresses already in keep being refreshed and dropped."""
    netns.run("ip", "link", "set", "lo", "up")
    netns.nft("-f", "-", input=nft(_FULL, recent_list_size=3))
    assert _send(netns, 5) == ["dropped"] * 3 + ["passed"] * 2
    listed = netns.nft("list", "set", "ip", "fwmigrate", "S").stdout
    assert "127.0.0.4" in listed and "127.0.0.5" not in listed and "127.0.0.6" not in listed
    assert _send(netns, 5) == ["dropped"] * 3 + ["passed"] * 2


@pytest.mark.kernel
def test_xt_recent_forgets_the_oldest_instead(netns):
    """The same rule in iptables-legacy: every packet is dropped, the list keeps ip_list_tot
    addresses, the oldest gone."""
    import shutil
    if shutil.which("iptables-legacy") is None:
        pytest.skip("iptables-legacy is not installed")
    netns.run("ip", "link", "set", "lo", "up")
    netns.run("iptables-legacy", "-A", "OUTPUT", "-p", "udp", "--dport", "9999", "-m",
              "recent", "--name", "S", "--set", "-j", "DROP")
    total = int(netns.run("cat", "/sys/module/xt_recent/parameters/ip_list_tot").stdout)
    assert _send(netns, total + 2) == ["dropped"] * (total + 2)
    held = netns.run("cat", "/proc/net/xt_recent/S").stdout
    assert held.count("src=") == total
    assert "src=127.0.0.2 " not in held and f"src=127.0.0.{total + 3} " in held


def test_a_list_both_families_use_with_a_narrow_mask_is_refused():
    with pytest.raises(FwmigrateError) as info:
        nft("iptables -A INPUT -m recent --name K --mask 255.255.0.0 --set\n"
            "ip6tables -A INPUT -m recent --name K --set\n"
            "ip6tables -A INPUT -m recent --name K --rcheck -j DROP\n")
    text = info.value.render()
    assert "fw.sh:1:1" in text and "fw.sh:3:1" in text
    assert "recent list K is used by iptables and ip6tables rules" in text
    assert "a list of their own" in text


def test_a_list_both_families_use_with_full_masks_is_translated_per_family():
    out = nft("for ipt in iptables ip6tables; do\n"
              "  $ipt -A INPUT -m recent --name K --set\n"
              "  $ipt -A INPUT -m recent --name K --rcheck -j DROP\n"
              "done\n")
    assert "update @K { ip saddr }" in out and "update @K { ip6 saddr }" in out


@pytest.mark.kernel
def test_xt_recent_masks_both_families_with_the_first_rules_mask(netns):
    """Why a narrow mask on a list both families use is refused: the list is one, and the mask
    of the rule that created it applies to IPv4 and IPv6 addresses alike."""
    import shutil
    import sys
    if shutil.which("iptables-legacy") is None:
        pytest.skip("iptables-legacy is not installed")
    netns.run("ip", "link", "set", "lo", "up")
    netns.run("ip", "-6", "addr", "add", "fd00:10::2/64", "dev", "lo", "nodad")
    netns.run("ip", "addr", "add", "10.1.2.3/24", "dev", "lo")
    send = ("import socket\n"
            "for fam, a in ((socket.AF_INET, '10.1.2.3'), (socket.AF_INET6, 'fd00:10::2')):\n"
            "    s = socket.socket(fam, socket.SOCK_DGRAM); s.sendto(b'x', (a, 9)); s.close()\n")
    # IPv4's rule first: its 255.255.0.0 also cuts the IPv6 address to 16 bits
    netns.run("iptables-legacy", "-A", "OUTPUT", "-m", "recent", "--name", "D", "--set",
              "--mask", "255.255.0.0")
    netns.run("ip6tables-legacy", "-A", "OUTPUT", "-m", "recent", "--name", "D", "--set")
    # IPv6's rule first: the IPv4 rule's own 255.255.0.0 does nothing
    netns.run("ip6tables-legacy", "-A", "OUTPUT", "-m", "recent", "--name", "C", "--set")
    netns.run("iptables-legacy", "-A", "OUTPUT", "-m", "recent", "--name", "C", "--set",
              "--mask", "255.255.0.0")
    netns.run(sys.executable, "-c", send)
    held_d = netns.run("cat", "/proc/net/xt_recent/D").stdout
    held_c = netns.run("cat", "/proc/net/xt_recent/C").stdout
    assert "src=10.1.0.0 " in held_d
    assert "src=fd00:0000:0000:0000:0000:0000:0000:0000 " in held_d
    assert "src=10.1.2.3 " in held_c
    assert "src=fd00:0010:0000:0000:0000:0000:0000:0002 " in held_c
