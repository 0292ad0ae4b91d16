#!/bin/bash
# modelled on: ffran/LINGI2142 firewall/P4.sh (rewritten for fwmigrate's tests, not a copy): a lab IPv6 router: -F of single chains then all, DROP policies, -p ipv6-icmp and -p 89 (OSPF), -I for traceroute ports, BGP by port, a commented-out LOG chain
ip6tables -F OUTPUT
ip6tables -F INPUT
ip6tables -F
ip6tables -X

ip6tables -P OUTPUT DROP
ip6tables -P FORWARD DROP
ip6tables -P INPUT DROP

ip6tables -A OUTPUT -o lo -j ACCEPT
ip6tables -A INPUT -i lo -j ACCEPT

# routing protocols: OSPFv3 by number, BGP by port
ip6tables -A FORWARD -p 89 -j ACCEPT
ip6tables -A INPUT -p 89 -j ACCEPT
ip6tables -A OUTPUT -p tcp --sport 179 -j ACCEPT
ip6tables -A INPUT -p tcp --dport 179 -j ACCEPT

ip6tables -A FORWARD -p ipv6-icmp -j ACCEPT
ip6tables -A INPUT -p ipv6-icmp -j ACCEPT

# traceroute goes before everything else
ip6tables -I FORWARD -p udp --dport 33434:33523 -j ACCEPT
ip6tables -I INPUT -p udp --dport 33434:33523 -j ACCEPT

#ip6tables -N DROPLOG
#ip6tables -A DROPLOG -m limit --limit 5/min -j LOG --log-prefix "v6 drop: "
