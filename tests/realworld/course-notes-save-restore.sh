# modelled on: JamesAri/bsa-notes firewall/firewall.sh (rewritten for fwmigrate's tests, not a copy): course notes kept as a script: a listing, apt-get, double spaces, iptables-save > FILE and iptables-restore FILE, a file's path alone on a line and an indented config line under it
# lab 4: a web server that only the faculty network may ssh into
iptables -nvL

apt-get -y install sshguard

iptables -A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT
iptables -A INPUT -p tcp --dport 22  -s  198.51.100.0/24 -j ACCEPT
iptables -A INPUT -j REJECT
iptables -I INPUT -p tcp --dport 8080 -j ACCEPT
iptables -I INPUT -p tcp --dport 443 -j ACCEPT

# keep them over a reboot
apt install -y netfilter-persistent
iptables-save > /etc/iptables.rules
iptables-restore /etc/iptables.rules

# and in the interface's stanza:
/etc/network/interfaces
	pre-up iptables-restore < /etc/iptables.rules
