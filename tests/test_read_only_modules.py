"""Modules fwmigrate reads but does not translate to nft: `--to iptables-restore` keeps them
in iptables-save's canonical form, and the nft backend refuses each with the reason from
mappings/extensions.toml [not_translated] (never a silent drop).

The saved forms below are what iptables-legacy-save printed after iptables-legacy 1.8.9 loaded
the command (Linux 6.18), where this kernel has the module; the refusals are iptables' or the
kernel's."""

import pytest

from fwmigrate import mappings
from fwmigrate.convert import ConvertOptions, convert
from fwmigrate.errors import FwmigrateError

from conftest import refusal, save_form

CIP = "-A INPUT -d 10.0.0.1 -i eth0 -j CLUSTERIP"

# (program, command after the program, the rule line iptables-save prints)
READ_ONLY = [
    ("ip6tables", "-A INPUT -m srh ! --srh-next-hdr 17 --srh-segs-left-gt 1 --srh-psid a::/64 "
     "-j ACCEPT", "-A INPUT -m srh ! --srh-next-hdr 17 --srh-segs-left-gt 1 --srh-psid a::/64 "
     "-j ACCEPT"),
    ("ip6tables", "-A INPUT -m srh --srh-lsid c::1/0 -j ACCEPT",
     "-A INPUT -m srh --srh-lsid c::1/0 -j ACCEPT"),
    ("ip6tables", "-A INPUT -m srh -j ACCEPT", "-A INPUT -m srh -j ACCEPT"),
    # (no xt_ipvs in this kernel: from the iptables vectors)
    ("iptables", "-A INPUT -m ipvs ! --vaddr 1.2.3.4/255.255.0.0 --vport http --vdir original "
     "--vmethod gate -j ACCEPT",
     "-A INPUT -m ipvs ! --vaddr 1.2.3.4/16 --vport 80 --vdir ORIGINAL --vmethod GATE -j ACCEPT"),
    ("iptables", "-A INPUT -m ipvs --vaddr 1.2.3.4 -j ACCEPT",
     "-A INPUT -m ipvs --vaddr 1.2.3.4 -j ACCEPT"),
    ("iptables", "-A INPUT -m string --hex-string '|41|42' --algo bm -j ACCEPT",
     '-A INPUT -m string --string "A42" --algo bm -j ACCEPT'),
    ("iptables", "-A INPUT -m string ! --string 'a\"b\\\\' --algo kmp --icase -j ACCEPT",
     '-A INPUT -m string ! --hex-string "|6122625c5c|" --algo kmp --icase -j ACCEPT'),
    ("iptables", "-A INPUT -m string --hex-string 'a| 0a 0b |b' --algo bm --from 0 --to 100 "
     "-j ACCEPT", '-A INPUT -m string --hex-string "|610a0b62|" --algo bm --to 100 -j ACCEPT'),
    ("iptables", "-t mangle -A PREROUTING -m socket --restore-skmark --transparent",
     "-A PREROUTING -m socket --transparent --restore-skmark"),
    ("iptables", "-A FORWARD -m physdev ! --physdev-is-bridged --physdev-in eth0 "
     "! --physdev-is-in", "-A FORWARD -m physdev ! --physdev-is-in --physdev-in eth0 "
     "! --physdev-is-bridged"),
    ("iptables", "-t mangle -A PREROUTING -p tcp -j TCPOPTSTRIP --strip-options "
     "mss,wscale,sack-permitted,sack,timestamp,md5,30",
     "-A PREROUTING -p tcp -j TCPOPTSTRIP --strip-options 2,3,4,5,8,19,30"),
    ("iptables", "-A INPUT -j IDLETIMER --label x --timeout 5 --alarm",
     "-A INPUT -j IDLETIMER --timeout 5 --label x --alarm"),
    ("iptables", "-A INPUT -j HMARK --hmark-tuple ct --hmark-offset 3 --hmark-rnd 1 "
     "--hmark-mod 2 --hmark-dport-mask 7 --hmark-dst-prefix 8",
     "-A INPUT -j HMARK --hmark-dst-prefix 8 --hmark-dport-mask 0x0007 --hmark-rnd 0x00000001 "
     "--hmark-mod 2 --hmark-offset 3 --hmark-tuple ct"),
    ("iptables", "-A INPUT -j HMARK --hmark-rnd 1 --hmark-mod 2 --hmark-src-prefix 24 "
     "--hmark-proto-mask 3 --hmark-offset 0",
     "-A INPUT -j HMARK --hmark-src-prefix 24 --hmark-proto-mask 0x03 --hmark-rnd 0x00000001 "
     "--hmark-mod 2 --hmark-offset 0"),
    ("ip6tables", "-t mangle -A PREROUTING -j DNPT --src-pfx dead::/48 --dst-pfx 1c3::/64",
     "-A PREROUTING -j DNPT --src-pfx dead::/48 --dst-pfx 1c3::/64"),
    ("iptables", "-A INPUT -p tcp -m osf ! --genre 'a b' --log 2",
     "-A INPUT -p tcp -m osf ! --genre a b --log 2"),
    ("iptables", "-t security -A INPUT -j CONNSECMARK --restore",
     "-A INPUT -j CONNSECMARK --restore"),
    ("iptables", "-t mangle -A PREROUTING -p tcp -j ECN --ecn-ip-ect 3 --ecn-tcp-cwr 1",
     "-A PREROUTING -p tcp -j ECN --ecn-tcp-cwr 1 --ecn-ip-ect 3"),
    # libipt_ECN: --ecn-tcp-remove sets both TCP bits to 0 and replaces the operations read
    # before it (an --ecn-ip-ect before it is lost); both bits set to 0 alone print as it
    ("iptables", "-t mangle -A PREROUTING -p tcp -j ECN --ecn-tcp-remove --ecn-ip-ect 1",
     "-A PREROUTING -p tcp -j ECN --ecn-tcp-ece 0 --ecn-tcp-cwr 0 --ecn-ip-ect 1"),
    ("iptables", "-t mangle -A PREROUTING -p tcp -j ECN --ecn-ip-ect 1 --ecn-tcp-remove",
     "-A PREROUTING -p tcp -j ECN --ecn-tcp-remove"),
    ("iptables", "-t mangle -A PREROUTING -p tcp -j ECN --ecn-tcp-cwr 0 --ecn-tcp-ece 0",
     "-A PREROUTING -p tcp -j ECN --ecn-tcp-remove"),
    ("iptables", "-t mangle -A PREROUTING -p tcp -j ECN --ecn-tcp-cwr 0 --ecn-tcp-ece 0 "
     "--ecn-ip-ect 2", "-A PREROUTING -p tcp -j ECN --ecn-tcp-ece 0 --ecn-tcp-cwr 0 "
     "--ecn-ip-ect 2"),
    ("iptables", "-t mangle -A PREROUTING -j CHECKSUM --checksum-fill",
     "-A PREROUTING -j CHECKSUM --checksum-fill"),
    ("ip6tables", "-t mangle -A PREROUTING -m eui64", "-A PREROUTING -m eui64"),
    ("ip6tables", "-A INPUT -m ipv6header --header ah,dst,hop,route,frag",
     "-A INPUT -m ipv6header --header hop-by-hop,ipv6-opts,ipv6-route,ipv6-frag,ah"),
    ("ip6tables", "-A INPUT -m ipv6header ! --header esp --soft",
     "-A INPUT -m ipv6header ! --header esp --soft"),
    ("ip6tables", "-A INPUT -m ipv6header --header none,prot",
     "-A INPUT -m ipv6header --header ipv6-nonxt,protocol"),
    ("iptables", "-A INPUT -j RATEEST --rateest-name RE4 --rateest-interval 300ms "
     "--rateest-ewmalog 2000ms",
     "-A INPUT -j RATEEST --rateest-name RE4 --rateest-interval 500.0ms --rateest-ewmalog 2.0s"),
    ("iptables", "-A INPUT -j RATEEST --rateest-name RE3 --rateest-interval 1s "
     "--rateest-ewmalog 10s",
     "-A INPUT -j RATEEST --rateest-name RE3 --rateest-interval 1.0s --rateest-ewmalog 8.0s"),
    ("iptables", "-A FORWARD -m rateest --rateest RE1 --rateest-gt --rateest-bps 1mbps",
     "-A FORWARD -m rateest --rateest RE1 --rateest-gt --rateest-bps 8000Kbit"),
    ("iptables", "-A FORWARD -m rateest --rateest RE1 --rateest-gt --rateest-bps 2gbit",
     "-A FORWARD -m rateest --rateest RE1 --rateest-gt --rateest-bps 2000Mbit"),
    ("iptables", "-A FORWARD -m rateest --rateest RE1 --rateest-gt --rateest-bps 3",
     "-A FORWARD -m rateest --rateest RE1 --rateest-gt --rateest-bps 0bit"),
    ("iptables", "-A FORWARD -m rateest --rateest RE1 --rateest-lt --rateest-bps1 8bit",
     "-A FORWARD -m rateest --rateest RE1 --rateest-lt --rateest-bps 0bit"),
    ("iptables", "-A FORWARD -m rateest --rateest RE1 --rateest-lt --rateest-bps 8bit "
     "--rateest-pps 3", "-A FORWARD -m rateest --rateest RE1 --rateest-lt --rateest-bps 8bit "
     "--rateest-lt --rateest-pps 3"),
    ("iptables", "-A FORWARD -m rateest ! --rateest-lt --rateest RE1 --rateest-pps 3",
     "-A FORWARD -m rateest --rateest RE1 ! --rateest-lt --rateest-pps 3"),
    ("iptables", "-A FORWARD -m rateest --rateest-delta --rateest RE1 --rateest-lt "
     "--rateest-bps1 8bit", "-A FORWARD -m rateest --rateest-delta --rateest RE1 "
     "--rateest-bps1 8bit --rateest-lt --rateest-bps2 0bit"),
    ("iptables", "-t mangle -A PREROUTING -m rpfilter --invert --loose",
     "-A PREROUTING -m rpfilter --loose --invert"),
    ("iptables", "-t raw -A PREROUTING -m rpfilter --accept-local --validmark",
     "-A PREROUTING -m rpfilter --validmark --accept-local"),
    ("iptables", "-t mangle -A PREROUTING -m cluster --cluster-total-nodes 4 "
     "! --cluster-local-node 3 --cluster-hash-seed 1",
     "-A PREROUTING -m cluster ! --cluster-local-nodemask 0x00000004 --cluster-total-nodes 4 "
     "--cluster-hash-seed 0x00000001"),
    ("iptables", "-t mangle -A PREROUTING -m cluster --cluster-total-nodes 4 "
     "--cluster-local-nodemask 5 --cluster-hash-seed 1",
     "-A PREROUTING -m cluster --cluster-local-nodemask 0x00000005 --cluster-total-nodes 4 "
     "--cluster-hash-seed 0x00000001"),
    ("iptables", "-A INPUT -m bpf --bytecode '4,48 0 0 9,21 0 1 6,6 0 0 1,6 0 0 0'",
     '-A INPUT -m bpf --bytecode "4,48 0 0 9,21 0 1 6,6 0 0 1,6 0 0 0"'),
    ("iptables", "-A INPUT -m bpf --bytecode '1,6 00 0 1,'",
     '-A INPUT -m bpf --bytecode "1,6 0 0 1"'),
    # (no xt_LED in this kernel: from the iptables vectors)
    ("iptables", "-A INPUT -j LED --led-trigger-id foo --led-delay 42 --led-always-blink",
     '-A INPUT -j LED --led-trigger-id "foo" --led-delay 42 --led-always-blink'),
    # (no ipt_CLUSTERIP since Linux 6.3: from the iptables vectors and libipt_CLUSTERIP's
    # save function, which prints every value of a --new rule)
    ("iptables", "-A INPUT -d 10.31.3.236/32 -i lo -j CLUSTERIP --new --hashmode sourceip "
     "--clustermac 01:AA:7B:47:F7:D7 --total-nodes 2 --local-node 1 --hash-init 1",
     "-A INPUT -d 10.31.3.236/32 -i lo -j CLUSTERIP --new --hashmode sourceip "
     "--clustermac 01:AA:7B:47:F7:D7 --total-nodes 2 --local-node 1 --hash-init 1"),
    ("iptables", CIP + " --local-node 16 --new "
     "--clustermac 1:2:3:4:5:a --total-nodes 16 --hashmode sourceip-sourceport",
     "-A INPUT -d 10.0.0.1/32 -i eth0 -j CLUSTERIP --new --hashmode sourceip-sourceport "
     "--clustermac 01:02:03:04:05:0A --total-nodes 16 --local-node 16 --hash-init 0"),
    ("iptables", "-A INPUT -m u32 --u32 '0x0=0x0&&0x0=0x1'",
     '-A INPUT -m u32 --u32 "0x0=0x0&&0x0=0x1"'),
    ("iptables", "-A INPUT -m u32 ! --u32 ' 0>>22&0x3C@ 12>>26&0x3C@ 0=0x1020304 , 5:010'",
     '-A INPUT -m u32 ! --u32 "0x0>>0x16&0x3c@0xc>>0x1a&0x3c@0x0=0x1020304,0x5:0x8"'),
    ("iptables", "-A INPUT -m u32 --u32 0=1,2,3,4,5,6,7,8,9,10",
     '-A INPUT -m u32 --u32 "0x0=0x1,0x2,0x3,0x4,0x5,0x6,0x7,0x8,0x9,0xa"'),
    ("iptables", "-A INPUT -m u32 --u32 '1&2&3&4&5<<6>>7@8&9&10=0'",
     '-A INPUT -m u32 --u32 "0x1&0x2&0x3&0x4&0x5<<0x6>>0x7@0x8&0x9&0xa=0x0"'),
    ("iptables", "-A INPUT -m u32 --u32 '" + "&&".join(["0=1"] * 10) + "'",
     '-A INPUT -m u32 --u32 "' + "&&".join(["0x0=0x1"] * 10) + '"'),
]

# (program, command after the program, iptables' or the kernel's refusal)
REFUSED = [
    ("iptables", "-A INPUT -m ipvs", "IPVS: At least one option is required"),
    ("iptables", "-A INPUT -m ipvs --vport 1:2", "invalid port/service `1:2'"),
    ("iptables", "-A INPUT -m ipvs ! --vdir REPLY", 'option "--vdir" cannot be inverted'),
    ("iptables", "-A INPUT -m ipvs --vmethod bogus", 'Bad value for "--vmethod" option: "bogus"'),
    ("iptables", "-A INPUT -m string --string x --algo bm --from 10 --to 5",
     "--from is after --to"),
    ("iptables", "-A INPUT -m string --hex-string 'a|0|b' --algo bm", "Invalid hex char"),
    ("iptables", "-A INPUT -m string --string " + "x" * 129 + " --algo bm", "STRING too long"),
    ("iptables", "-A INPUT -m string --string x --algo wrong", "unknown string search algorithm"),
    ("iptables", "-A FORWARD -m physdev", "PHYSDEV: no physdev option specified"),
    ("iptables", "-t mangle -A PREROUTING -j TCPOPTSTRIP", "TCPOPTSTRIP needs -p tcp"),
    ("iptables", "-t mangle -A PREROUTING -p tcp -j TCPOPTSTRIP --strip-options 1",
     "Option value may not be 0 or 1"),
    ("iptables", "-t mangle -A PREROUTING -p tcp -j TCPOPTSTRIP --strip-options 256",
     'Bad TCP option value "256"'),
    ("iptables", "-A INPUT -j HMARK --hmark-rnd 1 --hmark-mod 0", "out of range"),
    ("iptables", "-A INPUT -j HMARK --hmark-mod 5", '"--hmark-rnd" must be specified'),
    # libxt_HMARK wants something to hash: a prefix, a mask or --hmark-tuple ct
    ("iptables", "-A INPUT -j HMARK --hmark-rnd 1 --hmark-mod 5 --hmark-offset 3",
     "you have to specify --hmark-tuple at least"),
    ("iptables", "-A INPUT -j HMARK --hmark-rnd 1 --hmark-mod 2 --hmark-spi-mask 3 "
     "--hmark-sport-mask 4", "you cannot use --hmark-spi-mask and --hmark-?port-mask"),
    ("iptables", "-A INPUT -j HMARK --hmark-rnd 1 --hmark-mod 2 --hmark-tuple foo",
     'Bad type "foo"'),
    ("ip6tables", "-t mangle -A PREROUTING -j DNPT --src-pfx dead::1/64 --dst-pfx 1c3::/64",
     "is not one NPT can translate"),
    ("ip6tables", "-t mangle -A PREROUTING -j DNPT --src-pfx dead::/65 --dst-pfx 1c3::/65",
     "is not one NPT can translate"),
    ("iptables", "-t mangle -A PREROUTING -j DNPT --src-pfx 1.2.3.0/24 --dst-pfx 1.2.4.0/24",
     "Couldn't load target `DNPT'"),
    ("ip6tables", "-t mangle -A OUTPUT -m eui64", "only usable from"),
    ("ip6tables", "-A INPUT -m ipv6header --header all", "unknown header `all'"),
    ("ip6tables", "-A INPUT -m ipv6header", '"--header" must be specified'),
    ("iptables", "-t mangle -A PREROUTING -j CHECKSUM", '"--checksum-fill" must be specified'),
    ("iptables", "-A INPUT -j CHECKSUM --checksum-fill", "only valid in mangle table"),
    ("iptables", "-t mangle -A PREROUTING -j CONNSECMARK --save --restore",
     'option "--save" cannot be used together with "--restore"'),
    ("iptables", "-t raw -A PREROUTING -p tcp -j TPROXY --on-port 1", "only valid in mangle"),
    ("iptables", "-t mangle -A PREROUTING -j TPROXY --on-port 1", "TPROXY needs -p tcp"),
    ("iptables", "-t mangle -A PREROUTING -j ECN --ecn-tcp-remove",
     "ECN needs -p tcp"),
    ("iptables", "-t mangle -A PREROUTING -p tcp -j ECN --ecn-tcp-cwr 0 --ecn-tcp-ece 1 "
     "--ecn-tcp-remove", 'ECN: option "--ecn-tcp-remove" cannot be used together with '
     '"--ecn-tcp-cwr".'),
    ("iptables", "-t mangle -A PREROUTING -p tcp -j ECN --ecn-ip-ect 1 --ecn-tcp-remove "
     "--ecn-ip-ect 2", 'ECN: option "--ecn-ip-ect" can only be used once'),
    ("iptables", "-A INPUT -m osf --genre linux", "osf match requires '-p tcp'"),
    # libxt_osf is IPv4 only: ip6tables(-legacy and -nft)-restore 1.8.9 "Couldn't load match"
    ("ip6tables", "-A INPUT -p tcp -m osf --genre linux", "Couldn't load match `osf'"),
    ("iptables", "-A INPUT -p tcp -m osf --genre linux --ttl 3", "out of range"),
    ("iptables", "-A INPUT -j RATEEST --rateest-name R --rateest-interval 1s "
     "--rateest-ewmalog 2", "ewmalog value is out of range"),
    ("iptables", "-A INPUT -j RATEEST --rateest-name R --rateest-interval 9s "
     "--rateest-ewmalog 20s", "interval value is too large"),
    ("iptables", "-A FORWARD -m rateest --rateest RE1 --rateest-pps 3",
     "give --rateest-lt, --rateest-gt or --rateest-eq"),
    ("iptables", "-A FORWARD -m rateest --rateest RE1 --rateest-lt",
     "give --rateest-bps or --rateest-pps"),
    ("iptables", "-A FORWARD -m rateest --rateest RE1 --rateest-lt --rateest-bps 5furlongs",
     "bad rate value"),
    ("iptables", "-A INPUT -m bpf --bytecode '2,6 0 0 1'", "not the encoded length"),
    ("iptables", "-A INPUT -m bpf ! --bytecode '1,6 0 0 1'", "cannot be inverted"),
    # iptables reads this as k = 0 (sscanf stops at the x); refused rather than guessed
    ("iptables", "-A INPUT -m bpf --bytecode '1,6 0 0 0x10'", "bad instruction"),
    ("iptables", "-A INPUT -m rpfilter", "only valid in raw or mangle table, not filter"),
    ("iptables", "-t mangle -A INPUT -m rpfilter", "only usable from PREROUTING"),
    ("iptables", "-t nat -A PREROUTING -m rpfilter", "only valid in raw or mangle table"),
    ("iptables", "-A INPUT -m cluster --cluster-total-nodes 2 --cluster-local-node 3 "
     "--cluster-hash-seed 1", "too big"),
    ("iptables", "-A INPUT -m cluster --cluster-total-nodes 4 --cluster-local-nodemask 0x10 "
     "--cluster-hash-seed 1", "too big"),
    ("iptables", "-A INPUT -m cluster --cluster-total-nodes 33 --cluster-local-node 3 "
     "--cluster-hash-seed 1", "out of range"),
    ("iptables", "-A INPUT -m cluster --cluster-total-nodes 4 --cluster-local-node 0 "
     "--cluster-hash-seed 1", "out of range"),
    ("iptables", CIP + " --new --hashmode sourceip --clustermac 01:AA:7B:47:F7:D7 "
     "--total-nodes 2 --local-node 0 --hash-init 1", "CLUSTERIP: local node 0 is out of range"),
    ("iptables", CIP + " --new --clustermac 1:2:3:4:5:6 --total-nodes 16 --local-node 16",
     "CLUSTERIP target: Invalid parameter combination"),
    ("iptables", CIP + " --hashmode sourceip --clustermac 1:2:3:4:5:6 --total-nodes 16 "
     "--local-node 16", "CLUSTERIP target: Invalid parameter combination"),
    ("iptables", CIP + " --new", "CLUSTERIP target: Invalid parameter combination"),
    ("iptables", CIP + " --new --hashmode sourceip --clustermac 2:2:3:4:5:6 --total-nodes 2 "
     "--local-node 1", "MAC has to be a multicast ethernet address"),
    ("iptables", CIP + " --new --hashmode sourceip --clustermac 001:02:03:04:05:06 "
     "--total-nodes 2 --local-node 1", "Invalid MAC address specified."),
    ("iptables", CIP + " --new --hashmode sourceip --clustermac 1:2:3:4:5:6 --total-nodes 17 "
     "--local-node 1", 'CLUSTERIP: bad value for option "--total-nodes", or out of range (0-16).'),
    ("iptables", CIP + " --new --hashmode x --clustermac 1:2:3:4:5:6 --total-nodes 2 "
     "--local-node 1", 'Unknown hashmode "x"'),
    ("ip6tables", "-A INPUT -d ::1 -i eth0 -j CLUSTERIP --new --hashmode sourceip "
     "--clustermac 1:2:3:4:5:6 --total-nodes 2 --local-node 1", "Couldn't load target"),
    # the kernel's checkentry (Linux before 6.3)
    ("iptables", "-A INPUT -d 10.0.0.0/8 -i eth0 -j CLUSTERIP --new --hashmode sourceip "
     "--clustermac 1:2:3:4:5:6 --total-nodes 2 --local-node 1", "Please specify destination IP"),
    ("iptables", "-A INPUT -i eth0 -j CLUSTERIP --new --hashmode sourceip "
     "--clustermac 1:2:3:4:5:6 --total-nodes 2 --local-node 1", "Please specify destination IP"),
    ("iptables", "-A INPUT -d 10.0.0.1 -j CLUSTERIP --new --hashmode sourceip "
     "--clustermac 1:2:3:4:5:6 --total-nodes 2 --local-node 1", "Please specify an interface"),
    ("iptables", "-A INPUT -m u32 --u32 ''", "u32: abrupt end of input after location"),
    ("iptables", "-A INPUT -m u32 --u32 0=", "u32: test ended with no value specified"),
    ("iptables", "-A INPUT -m u32 --u32 =1", "u32: at char 0: location spec missing"),
    ("iptables", "-A INPUT -m u32 --u32 '0&&1=2'", "u32: at char 2: not a number"),
    ("iptables", "-A INPUT -m u32 --u32 '0=1&'", "u32: at char 4: a second '&' was expected"),
    ("iptables", "-A INPUT -m u32 --u32 '0<1=2'", "u32: at char 2: a second '<' was expected"),
    ("iptables", "-A INPUT -m u32 --u32 0x=1", "u32: at char 1: operator expected"),
    ("iptables", "-A INPUT -m u32 --u32 -1=0", "u32: at char 0: not a number or out of range"),
    ("iptables", "-A INPUT -m u32 --u32 '0=1;2'", 'u32: at char 3: expected "," or "&&"'),
    ("iptables", "-A INPUT -m u32 --u32 +5=08", 'u32: at char 4: expected "," or "&&"'),
    ("iptables", "-A INPUT -m u32 --u32 0=4294967296", "u32: at char 2: not a number"),
    ("iptables", "-A INPUT -m u32 --u32 '" + "&&".join(["0=1"] * 11) + "'",
     'u32: at char 53: too many "&&"s'),
    ("iptables", "-A INPUT -m u32 --u32 '" + "&&".join(["0=1"] * 12) + "'",
     'u32: at char 54: too many "&&"s'),
    ("iptables", "-A INPUT -m u32 --u32 0=1,2,3,4,5,6,7,8,9,10,11",
     'u32: at char 25: too many ","s'),
    ("iptables", "-A INPUT -m u32 --u32 '1&2&3&4&5&6&7&8&9&10&11=0'",
     "u32: at char 23: too many operators"),
    ("iptables", "-A INPUT -m u32", 'option "--u32" must be specified'),
]


@pytest.mark.parametrize("program,command,saved", READ_ONLY, ids=[r[1] for r in READ_ONLY])
def test_read_back_in_save_form(program, command, saved):
    assert saved in save_form(program, command)


@pytest.mark.parametrize("program,command,saved", READ_ONLY, ids=[r[1] for r in READ_ONLY])
def test_nft_refuses_with_the_reason(program, command, saved):
    words = command.split()
    name = words[words.index("-m") + 1] if "-m" in words else words[words.index("-j") + 1]
    text = "\n".join(f"{d.message} {d.hint or ''}" for d in refusal(program, command, "nft"))
    assert "no exact nft equivalent" in text
    assert mappings.load("extensions")["not_translated"][name] in text


@pytest.mark.parametrize("program,command,message", REFUSED, ids=[r[1] for r in REFUSED])
def test_refused_as_iptables_refuses(program, command, message):
    diagnostics = refusal(program, command)
    assert any(message in d.message for d in diagnostics), diagnostics


def test_read_only_target_in_a_handled_command_is_still_refused_for_nft():
    script = "iptables -t mangle -A INPUT -j SECMARK --selctx system_u:object_r:x_t:s0 || :\n"
    with pytest.raises(FwmigrateError) as info:
        convert(script, "fw.sh", ConvertOptions(to="nft"))
    assert any("-j SECMARK has no exact nft equivalent" in d.message
               for d in info.value.diagnostics)
