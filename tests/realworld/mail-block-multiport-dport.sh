#!/bin/bash
# modelled on: sakz/install_ss spam.sh (rewritten for fwmigrate's tests, not a copy): long -m multiport --dport lists (the singular spelling), REJECT with tcp-reset, then `service iptables save`
iptables -A OUTPUT -p tcp -m multiport --dport 25,26,110,143,465,587,993,995,2525 -j REJECT --reject-with tcp-reset
iptables -A OUTPUT -p udp -m multiport --dport 25,110,143,465,587,993,995 -j DROP
iptables -A OUTPUT -p tcp -m multiport --dport 109,119,220,563,1109,6667,6697 -j REJECT --reject-with tcp-reset
service iptables save
service iptables reload
