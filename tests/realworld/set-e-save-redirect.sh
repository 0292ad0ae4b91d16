#!/bin/sh
# modelled on: 8l/firewall.sh firewall.sh (rewritten for fwmigrate's tests, not a copy): a minimal set -e host firewall: DROP policies, loopback and established traffic, a commented-out rule, iptables-save redirected to a file
set -e
iptables -P OUTPUT ACCEPT
iptables -P FORWARD DROP
iptables -P INPUT DROP
iptables -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
iptables -A INPUT -i lo -j ACCEPT
# iptables -A INPUT -p tcp --dport 2222 -j ACCEPT

iptables-save > /etc/iptables/saved.rules
