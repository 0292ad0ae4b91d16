# modelled on: Doboo/manyuser d7firewall.sh (rewritten for fwmigrate's tests, not a copy): a mail-port block for a proxy server with an en dash pasted for "--" ("–dport", "–reject-with"), indented lines, the rules saved and a here-document hook that restores them
  iptables -F
  iptables -X
iptables -P INPUT ACCEPT
iptables -A OUTPUT -p udp -m multiport --dports 25,465,587 -j DROP
# no outgoing mail from the relays
iptables -A OUTPUT -p tcp -m multiport –dport 25,110,143,465,587,993,995,2525 -j REJECT –reject-with tcp-reset
iptables-save > /etc/iptables.rules
cat > /etc/network/if-pre-up.d/fw-restore << HOOK
#!/bin/sh
/sbin/iptables-restore < /etc/iptables.rules
HOOK
chmod 755 /etc/network/if-pre-up.d/fw-restore
