#!/bin/sh
# modelled on: middle2tw/middle2 scripts/nat.sh (rewritten for fwmigrate's tests, not a copy): NAT for a private /24 by the full path /sbin/iptables, after modprobe of the old ip_nat_* helper modules
modprobe ip_nat_irc
modprobe ip_tables
modprobe ip_nat_ftp
echo "1" > /proc/sys/net/ipv4/ip_forward
/sbin/iptables -t nat -A POSTROUTING -s 172.20.5.0/24 -o ens3 -j MASQUERADE
