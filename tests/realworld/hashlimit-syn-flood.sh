#!/bin/bash
# modelled on: zakariamehbi/Server-Scripts firewall/custom/anti-syn-flood.sh (rewritten for fwmigrate's tests, not a copy): a SYN-flood chain with -m hashlimit written over indented backslash lines (the old --hashlimit spelling, -htable-expire, -mode srcip, -name), RETURN under the limit, LOG and DROP above it

iptables -N SYN_GUARD

iptables -A INPUT -p tcp --syn -j SYN_GUARD

iptables -A SYN_GUARD -p tcp --syn \
    -m hashlimit \
    --hashlimit-name syn_guard \
    --hashlimit-mode srcip \
    --hashlimit 50/s \
    --hashlimit-burst 5 \
    --hashlimit-htable-expire 120000 \
    -j RETURN
iptables -A SYN_GUARD -j LOG --log-prefix "syn guard: "
iptables -A SYN_GUARD -j DROP
