#!/bin/sh
#
# Host firewall for a dual-stack web server.
# Common rules are written once for both families; ICMP and the
# admin networks differ per family and are set up below the loop.
#

# office networks allowed to reach the monitoring agent
ADMIN_V4=198.51.100.0/24
ADMIN_V6=2001:db8:1::/48

for ipt in iptables ip6tables; do
    # clean slate, then default policies
    $ipt -F
    $ipt -X
    $ipt -P INPUT DROP
    $ipt -P FORWARD DROP
    $ipt -P OUTPUT ACCEPT

    # loopback and replies
    $ipt -A INPUT -i lo -j ACCEPT
    $ipt -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
    $ipt -A INPUT -m conntrack --ctstate INVALID -j DROP

    # services
    $ipt -A INPUT -p tcp --dport 22 -m conntrack --ctstate NEW -j ACCEPT
    $ipt -A INPUT -p tcp -m multiport --dports 80,443 \
        -m conntrack --ctstate NEW -m comment --comment "web" -j ACCEPT

    # log-and-drop chain; INPUT jumps here last (see below)
    $ipt -N LOGDROP
    $ipt -A LOGDROP -m limit --limit 3/min --limit-burst 10 \
        -j LOG --log-prefix "fw-drop: "
    $ipt -A LOGDROP -j DROP
done

#
# IPv4 only
#

# rate-limited ping
iptables -A INPUT -p icmp --icmp-type echo-request -m limit --limit 5/second -j ACCEPT
# node_exporter for the monitoring host
iptables -A INPUT -s $ADMIN_V4 -p tcp --dport 9100 -j ACCEPT
iptables -A INPUT -j LOGDROP

#
# IPv6 only: neighbour discovery must work or nothing does
#
for t in neighbour-solicitation neighbour-advertisement router-advertisement; do
    ip6tables -A INPUT -p ipv6-icmp --icmpv6-type $t -j ACCEPT
done
ip6tables -A INPUT -p ipv6-icmp --icmpv6-type echo-request \
    -m limit --limit 5/second -j ACCEPT
ip6tables -A INPUT -s $ADMIN_V6 -p tcp --dport 9100 -j ACCEPT
ip6tables -A INPUT -j LOGDROP
