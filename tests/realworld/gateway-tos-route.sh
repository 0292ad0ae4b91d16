#!/bin/sh
# source: DavidTWang/iptables-firewall firewall.sh (abridged)
PUBLIC_INTERFACE="em1"
INTERNAL_IP="192.168.10.2"
FIREWALL_IP="192.168.0.15"
SUBNET_ADDR="192.168.10.0/24"

clear
iptables -F
iptables -X

ifconfig p3p1 192.168.10.1 up
echo "1">/proc/sys/net/ipv4/ip_forward
route add -net $SUBNET_ADDR gw 192.168.10.1

iptables -t nat -A POSTROUTING -s 192.168.10.0 -o $PUBLIC_INTERFACE -j SNAT --to-source $FIREWALL_IP
iptables -t nat -A PREROUTING -i $PUBLIC_INTERFACE -j DNAT --to-destination $INTERNAL_IP
iptables -t nat -A POSTROUTING -o $PUBLIC_INTERFACE -j MASQUERADE

iptables -P INPUT ACCEPT
iptables -A PREROUTING -t mangle -p tcp --sport ssh -j TOS --set-tos Minimize-Delay
iptables -A PREROUTING -t mangle -p tcp --sport ftp-data -j TOS --set-tos Maximize-Throughput

iptables -A FORWARD -p tcp --sport 23 -j DROP
iptables -A FORWARD -p tcp --tcp-flags SYN,FIN SYN,FIN -j DROP
iptables -A FORWARD -p tcp -m multiport --dports 111,515,32768:32775 -j DROP
