#!/bin/sh
# modelled on: ClementP34/fw firewall.sh (rewritten for fwmigrate's tests, not a copy): the same init script with its start function written out, as the refusal's hint asks: -t filter padded with spaces, DROP policies, forwarding and NAT between two interfaces
LAN="enp3s0"
WAN="enp2s0"
ADMIN_PORT="2222"

echo 1 > /proc/sys/net/ipv4/ip_forward
echo 1 > /proc/sys/net/ipv4/tcp_syncookies
iptables -t nat         -F
iptables -t mangle      -F
iptables -t filter      -F
iptables -t filter      -X
iptables -t filter      -P OUTPUT DROP
iptables -t filter      -P INPUT DROP
iptables -t filter      -P FORWARD DROP
iptables -t filter -A INPUT -i lo -s 127.0.0.0/8 -d 127.0.0.0/8 -j ACCEPT
iptables -t nat -A POSTROUTING -o $WAN -j MASQUERADE
iptables -A INPUT  -i $LAN -m state --state ESTABLISHED,RELATED -j ACCEPT
iptables -A FORWARD -i $WAN -o $LAN -m state --state ESTABLISHED,RELATED -j ACCEPT
iptables -A FORWARD -i $LAN -o $WAN -j ACCEPT
iptables -t filter -A INPUT -i $LAN -p tcp --dport $ADMIN_PORT -j ACCEPT
iptables -t filter -A OUTPUT -o $LAN -p tcp --sport $ADMIN_PORT -j ACCEPT
iptables -t filter -A OUTPUT -o $WAN -p udp --dport 53 -j ACCEPT
iptables -t filter -A OUTPUT -o $WAN -p icmp -j ACCEPT
iptables -t filter -A INPUT -i $WAN -p icmp -j ACCEPT
