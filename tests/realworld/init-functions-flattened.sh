#!/bin/sh
# source: ClementP34/fw firewall.sh (abridged; the body of fw_start written out, as the refusal's hint asks)
SSH="22"
INTERNE="eth1"
EXTERNE="eth0"

echo 1 > /proc/sys/net/ipv4/ip_forward
echo 1 > /proc/sys/net/ipv4/icmp_echo_ignore_broadcasts
iptables -t filter      -F
iptables -t nat         -F
iptables -t mangle      -F
iptables -t filter      -X
iptables -t filter      -P INPUT DROP
iptables -t filter      -P FORWARD DROP
iptables -t filter      -P OUTPUT DROP
iptables -t filter -A INPUT -i $EXTERNE -p icmp -j ACCEPT
iptables -t filter -A OUTPUT -o $EXTERNE -p icmp -j ACCEPT
iptables -t nat -A POSTROUTING -o $EXTERNE -j MASQUERADE
iptables -t filter -A INPUT -i lo -s 127.0.0.0/8 -d 127.0.0.0/8 -j ACCEPT
iptables -A FORWARD -i $EXTERNE -o $INTERNE -m state --state ESTABLISHED,RELATED -j ACCEPT
iptables -A INPUT  -i $INTERNE -m state --state ESTABLISHED,RELATED -j ACCEPT
iptables -t filter -A INPUT -i $INTERNE -p tcp --dport $SSH -j ACCEPT
iptables -t filter -A OUTPUT -o $INTERNE -p tcp --sport $SSH -j ACCEPT
iptables -t filter -A OUTPUT -o $EXTERNE -p udp --dport 53 -j ACCEPT
