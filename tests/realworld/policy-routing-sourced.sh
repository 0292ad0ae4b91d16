#!/bin/bash
# modelled on: lradaelli85/Policy-Routing do_routing.sh (rewritten for fwmigrate's tests, not a copy): two uplinks; every value comes from `. FILE`; connmark save/restore sends new web traffic out the second uplink
. ./uplinks.conf

sysctl -w net.ipv4.ip_forward=1
echo 2 > /proc/sys/net/ipv4/conf/all/rp_filter
ip route add $wan1_net dev $wan1_if src $wan1_addr table wan1
ip route add default via $wan1_router table wan1
ip rule add from $wan1_addr table wan1
ip rule add fwmark 0x2 table wan2

iptables -t nat -A POSTROUTING -o $wan1_if -j MASQUERADE
iptables -t nat -A POSTROUTING -o $wan2_if -j MASQUERADE

iptables -t mangle -A PREROUTING -s $inside_net -m conntrack ! --ctstate NEW -m connmark ! --mark 0 -j CONNMARK --restore-mark
iptables -t mangle -A PREROUTING -s $inside_net -p tcp --dport 443 -m conntrack --ctstate NEW -m connmark --mark 0 -j MARK --set-mark 0x2
iptables -t mangle -A PREROUTING -s $inside_net -p icmp --icmp-type echo-request -m connmark --mark 0 -j MARK --set-mark 0x2
iptables -t mangle -A PREROUTING -m conntrack --ctstate NEW -m mark ! --mark 0 -j CONNMARK --save-mark
