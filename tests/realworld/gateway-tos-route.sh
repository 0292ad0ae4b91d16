#!/bin/sh
# modelled on: DavidTWang/iptables-firewall firewall.sh (rewritten for fwmigrate's tests, not a copy): a course-work gateway: clear, ifconfig, route add, SNAT from an address without a mask, DNAT of everything, TOS by service name (the first TOS rule is refused), multiport with a range
WAN="enp1s0"
LAN_NET="10.8.0.0/24"
SERVER="10.8.0.20"
WAN_ADDR="192.0.2.66"

clear
echo "1" > /proc/sys/net/ipv4/ip_forward
iptables -F
iptables -X
ifconfig enp2s0 10.8.0.1 up
route add -net $LAN_NET gw 10.8.0.1

# the inside network goes out as the gateway; everything arriving goes to the server
iptables -t nat -A POSTROUTING -s 10.8.0.0 -o $WAN -j SNAT --to-source $WAN_ADDR
iptables -t nat -A PREROUTING -i $WAN -j DNAT --to-destination $SERVER
iptables -P INPUT ACCEPT

# interactive first, bulk second
iptables -A PREROUTING -t mangle -p tcp --sport ssh -j TOS --set-tos Minimize-Delay
iptables -A PREROUTING -t mangle -p tcp --sport ftp-data -j TOS --set-tos Maximize-Throughput

iptables -A FORWARD -p tcp --tcp-flags SYN,FIN SYN,FIN -j DROP
iptables -A FORWARD -p tcp -m multiport --dports 135,139,6000:6063 -j DROP
