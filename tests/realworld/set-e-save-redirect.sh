#!/bin/sh
# source: 8l/firewall.sh firewall.sh
set -e
iptables -P INPUT DROP
iptables -P FORWARD DROP
iptables -P OUTPUT ACCEPT
iptables -A INPUT -i lo -j ACCEPT
iptables -A OUTPUT -o lo -j ACCEPT
iptables -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
# iptables -I INPUT -p tcp --dport 22 -j ACCEPT

iptables-save > /etc/firewall.conf
