#!/bin/bash
# modelled on: adityawasudeo/vpn_ondemand vpn/startVPN.sh (rewritten for fwmigrate's tests, not a copy): an OpenVPN container's entry script: mkdir and mknod for /dev/net/tun, -I FORWARD rules, a MASQUERADE for another subnet than the tunnel's, then the daemon
mkdir -p /dev/net
mknod /dev/net/tun c 10 200

iptables -t nat -A POSTROUTING -s 10.77.0.0/24 -o ens5 -j MASQUERADE
iptables -I FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
#iptables -I FORWARD -i tun0 -j ACCEPT
iptables -I FORWARD -i tun0 -o ens5 -s 10.9.0.0/24 -m conntrack --ctstate NEW -j ACCEPT

exec openvpn --config /etc/openvpn/server.conf
