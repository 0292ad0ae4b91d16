#!/bin/bash
#
# Small-office NAT gateway
#   eth0 = uplink to the ISP, eth1 = office LAN
#

WAN=eth0
LAN=eth1
LAN_NET=192.168.10.0/24

# second static address from the ISP, used by the mail server
WAN_IP2=203.0.113.10
MAIL_HOST=192.168.10.25

# internal servers reachable from outside
WEB_HOST=192.168.10.20
NAS_HOST=192.168.10.30

# connection tracking helpers and routing
modprobe nf_conntrack
modprobe nf_conntrack_ftp
echo 1 > /proc/sys/net/ipv4/ip_forward

# start from a clean slate
iptables -F
iptables -X
iptables -t nat -F
iptables -t nat -X

# default policies
iptables -P INPUT DROP
iptables -P FORWARD DROP
iptables -P OUTPUT ACCEPT

#
# INPUT: traffic to the gateway itself
#

# loopback
iptables -A INPUT -i lo -j ACCEPT

# replies to our own connections
iptables -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
iptables -A INPUT -m conntrack --ctstate INVALID -j DROP

# SSH from the LAN only
iptables -A INPUT -i $LAN -s $LAN_NET -p tcp --dport 22 \
    -m conntrack --ctstate NEW \
    -m comment --comment "ssh from office only" -j ACCEPT

# DNS (dnsmasq) and NTP for the LAN
for port in 53 123; do
    iptables -A INPUT -i $LAN -s $LAN_NET -p udp --dport $port -j ACCEPT
done
# DNS over TCP and the squid proxy
iptables -A INPUT -i $LAN -s $LAN_NET -p tcp -m multiport --dports 53,3128 -j ACCEPT

# DHCP requests come from 0.0.0.0, so no source check here
iptables -A INPUT -i $LAN -p udp --sport 68 --dport 67 -j ACCEPT

# ping, but not a flood
iptables -A INPUT -p icmp --icmp-type echo-request \
    -m limit --limit 2/second --limit-burst 10 -j ACCEPT

# log what we are about to refuse, then refuse it politely
iptables -A INPUT -m limit --limit 5/min --limit-burst 10 \
    -j LOG --log-prefix "gw-input-reject: " --log-level 4
iptables -A INPUT -p tcp -j REJECT --reject-with tcp-reset
iptables -A INPUT -j REJECT --reject-with icmp-port-unreachable

#
# FORWARD: traffic through the gateway
#

iptables -A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
iptables -A FORWARD -m conntrack --ctstate INVALID -j DROP

# no direct SMTP from desktops (spam bots); the mail server is exempt
iptables -A FORWARD -i $LAN -o $WAN -s $MAIL_HOST -p tcp --dport 25 -j ACCEPT
iptables -A FORWARD -i $LAN -o $WAN -p tcp -m multiport --dports 25,465,587 \
    -m comment --comment "block outbound mail" -j REJECT --reject-with tcp-reset

# the LAN may go anywhere
iptables -A FORWARD -i $LAN -o $WAN -s $LAN_NET -j ACCEPT

# port forwards (see the DNAT rules below)
iptables -A FORWARD -i $WAN -o $LAN -d $WEB_HOST -p tcp --dport 80 \
    -m conntrack --ctstate NEW -m comment --comment "web server" -j ACCEPT
iptables -A FORWARD -i $WAN -o $LAN -d $NAS_HOST -p tcp --dport 22 \
    -m conntrack --ctstate NEW -j ACCEPT

# log dropped forwards (policy DROP does the rest)
iptables -A FORWARD -m limit --limit 5/min \
    -j LOG --log-prefix "gw-fwd-drop: "

#
# NAT
#

# public port 8080 -> internal web server, 2222 -> NAS ssh
iptables -t nat -A PREROUTING -i $WAN -p tcp --dport 8080 \
    -j DNAT --to-destination $WEB_HOST:80
iptables -t nat -A PREROUTING -i $WAN -p tcp --dport 2222 \
    -j DNAT --to-destination $NAS_HOST:22

# transparent squid proxy for plain HTTP from the LAN
iptables -t nat -A PREROUTING -i $LAN -s $LAN_NET -p tcp --dport 80 \
    -m comment --comment "transparent proxy" -j REDIRECT --to-ports 3128

# mail server goes out with its own static address
iptables -t nat -A POSTROUTING -o $WAN -s $MAIL_HOST -j SNAT --to-source $WAN_IP2
# everybody else is masqueraded behind the dynamic address
iptables -t nat -A POSTROUTING -o $WAN -s $LAN_NET -j MASQUERADE
