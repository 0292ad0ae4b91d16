#! /bin/bash
# source: BrentonEarl/Iptables-Script firewall.sh (abridged)
iface='eth0'

echo "Setting up iptables firewall for $iface."

iptables -F
iptables -X

echo "Blocking all fragmented packets."
iptables -A INPUT -i $iface -f  -m limit --limit 5/m --limit-burst 7 -j LOG --log-level 4 --log-prefix "Fragments Packets"
iptables -A INPUT -i $iface -f -j DROP

iptables  -A INPUT -i $iface -p tcp --tcp-flags ALL FIN,URG,PSH -j DROP
iptables  -A INPUT -i $iface -p tcp --tcp-flags ALL NONE -m limit --limit 5/m --limit-burst 7 -j LOG --log-level 4 --log-prefix "NULL Packets"
iptables  -A INPUT -i $iface -p tcp --tcp-flags ALL NONE -j DROP # NULL packets
iptables  -A INPUT -i $iface -p tcp --tcp-flags SYN,RST SYN,RST -j DROP
iptables  -A INPUT -i $iface -p tcp --tcp-flags FIN,ACK FIN -j DROP # FIN packet scans
iptables  -A INPUT -i $iface -p tcp --tcp-flags ALL SYN,RST,ACK,FIN,URG -j DROP

iptables -A INPUT -p tcp --dport 3333 -j ACCEPT
iptables -A INPUT -p icmp -j ACCEPT
iptables -A INPUT -s 127.0.0.1 -j ACCEPT
iptables -A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT
iptables -A FORWARD -i $iface -m state --state RELATED,ESTABLISHED -j ACCEPT
iptables -A OUTPUT -m state --state NEW,RELATED,ESTABLISHED -j ACCEPT

echo "Enable Logging of Input and Forwarding"
iptables -A INPUT -m limit --limit 5/min -j LOG --log-prefix "iptables denied: " --log-level 7
iptables -A FORWARD -m limit --limit 5/min -j LOG --log-prefix "iptables denied: " --log-level 7
iptables -A INPUT -j DROP
iptables -A FORWARD -j DROP

file='/etc/iptables.rules'
echo "Saving Firewall Rules to $file."
iptables-save > /etc/iptables.rules
