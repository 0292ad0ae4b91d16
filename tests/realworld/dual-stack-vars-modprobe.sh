#!/bin/sh
# modelled on: freexspeed/usefulScript etherws_webSocket.sh (rewritten for fwmigrate's tests, not a copy): command paths in variables, -F -t nat (table after the command), modprobe of the old helper modules, IPv6 closed, MASQUERADE with no interface
V4=/sbin/iptables
V6=/sbin/ip6tables
modprobe iptable_nat
modprobe ip_conntrack
modprobe ip_nat_ftp
$V6 -P FORWARD DROP
$V6 -P INPUT DROP
$V6 -P OUTPUT DROP
$V4 -F -t nat
$V4 -F
$V4 -X
$V4 -P FORWARD ACCEPT 
$V4 -P INPUT ACCEPT
$V4 -P OUTPUT ACCEPT
echo 1 > /proc/sys/net/ipv4/ip_forward
$V4 -t nat -A POSTROUTING -j MASQUERADE
