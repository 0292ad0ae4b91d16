#!/bin/sh
# modelled on: zengyijing/wspace_controller configure_nat.sh (rewritten for fwmigrate's tests, not a copy): a NAT box written only in long options (--table, --flush, --delete-chain, --append, --out-interface, --in-interface)
echo 1 > /proc/sys/net/ipv4/ip_forward
iptables --table nat --flush
iptables --flush
iptables --table nat --delete-chain
iptables --delete-chain
iptables --append FORWARD --in-interface wlan1 -j ACCEPT
iptables --table nat --append POSTROUTING --out-interface enp0s25 -j MASQUERADE
