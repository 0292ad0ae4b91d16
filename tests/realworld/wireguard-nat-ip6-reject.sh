#!/bin/bash
# modelled on: gavynriebau/WireguardVpnConfig server/nat-setup.sh (rewritten for fwmigrate's tests, not a copy): a WireGuard server's NAT for IPv4 both ways, and ip6tables -I FORWARD … -j REJECT to keep IPv6 out of the tunnel

ip6tables -I FORWARD -i enp1s0 -j REJECT
ip6tables -I FORWARD -i wg1 -j REJECT
iptables -t nat -A POSTROUTING -o enp1s0 -j MASQUERADE
iptables -t nat -A POSTROUTING -o wg1 -j MASQUERADE
iptables -A FORWARD -i wg1 -j ACCEPT
iptables -A FORWARD -i enp1s0 -j ACCEPT
