# modelled on: spilgit/CentOS6 block-portscan.sh (rewritten for fwmigrate's tests, not a copy): a scan trap on one port: -m recent --rcheck/--remove/--set across INPUT and FORWARD, LOG then DROP, RSTs limited with --limit-burst
iptables -A INPUT -p tcp -m tcp --tcp-flags RST RST -m limit --limit 4/second --limit-burst 4 -j ACCEPT

# a source that touched the trap port stays blocked for an hour
iptables -A INPUT -m recent --name trap --rcheck --seconds 3600 -j DROP
iptables -A FORWARD -m recent --name trap --rcheck --seconds 3600 -j DROP
# after that it is forgotten
iptables -A FORWARD -m recent --name trap --remove
iptables -A INPUT -m recent --name trap --remove

# the trap: telnet
iptables -A INPUT -p tcp -m tcp --dport 23 -m recent --name trap --set -j LOG --log-prefix "trap hit: "
iptables -A INPUT -p tcp -m tcp --dport 23 -m recent --name trap --set -j DROP
iptables -A FORWARD -p tcp -m tcp --dport 23 -m recent --name trap --set -j LOG --log-prefix "trap hit: "
iptables -A FORWARD -p tcp -m tcp --dport 23 -m recent --name trap --set -j DROP
