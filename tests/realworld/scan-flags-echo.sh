#! /bin/bash
# modelled on: BrentonEarl/Iptables-Script firewall.sh (rewritten for fwmigrate's tests, not a copy): a desktop firewall that echoes each step: the interface in a variable, -f fragments, --tcp-flags scan patterns, LOG with --log-level and limits, a trailing comment after a rule, iptables-save to a file
nic='enp0s3'
out='/etc/iptables/host.rules'

echo "Firewall for $nic: starting from empty."
iptables -F
iptables -X

echo "Dropping fragments."
iptables -A INPUT -i $nic -f -m limit --limit 3/m --limit-burst 5 -j LOG --log-level 4 --log-prefix "frag: "
iptables -A INPUT -i $nic -f -j DROP

echo "Dropping scan flag patterns."
iptables -A INPUT -i $nic -p tcp --tcp-flags ALL NONE -m limit --limit 3/m --limit-burst 5 -j LOG --log-level 4 --log-prefix "null scan: "
iptables  -A INPUT -i $nic -p tcp --tcp-flags ALL NONE -j DROP # nothing set
iptables  -A INPUT -i $nic -p tcp --tcp-flags ALL FIN,PSH,URG -j DROP # xmas
iptables  -A INPUT -i $nic -p tcp --tcp-flags FIN,ACK FIN -j DROP
iptables  -A INPUT -i $nic -p tcp --tcp-flags SYN,RST SYN,RST -j DROP
iptables  -A INPUT -i $nic -p tcp --tcp-flags ALL SYN,RST,ACK,FIN,URG -j DROP

iptables -A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT
iptables -A INPUT -s 127.0.0.1 -j ACCEPT
iptables -A INPUT -p icmp -j ACCEPT
iptables -A INPUT -p tcp --dport 8022 -j ACCEPT
iptables -A OUTPUT -m state --state NEW,RELATED,ESTABLISHED -j ACCEPT

echo "Logging what is left, then dropping it."
iptables -A INPUT -m limit --limit 6/min -j LOG --log-prefix "in dropped: " --log-level 6
iptables -A INPUT -j DROP
iptables -A FORWARD -j DROP

echo "Saving to $out."
iptables-save > $out
