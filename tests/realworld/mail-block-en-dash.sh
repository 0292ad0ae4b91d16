# source: Doboo/manyuser d7firewall.sh (abridged: "–dport" with an en dash, as pasted from a web page)
 iptables -F
 iptables -X
iptables -A OUTPUT -p tcp -m multiport --dports 25,26,465 -j REJECT --reject-with tcp-reset
iptables -A OUTPUT -p udp -m multiport --dports 25,26,465 -j DROP

iptables -A OUTPUT -p tcp -m multiport –dport 24,25,50,57,105,106,109,110,143,158,209,218,220,465,587 -j REJECT –reject-with tcp-reset
iptables -P INPUT ACCEPT
touch /etc/iptables.up.rules
iptables-save > /etc/iptables.up.rules
cat > /etc/network/if-pre-up.d/iptables << EOL
#!/bin/bash
/sbin/iptables-restore < /etc/iptables.up.rules
EOL
chmod +x /etc/network/if-pre-up.d/iptables
