# modelled on: DJumanto/Jarkom-Modul-5-F01-2023 script/no9.sh (rewritten for fwmigrate's tests, not a copy): a -m recent scan guard whose --update --hitcount has no exact nft translation; the chain it creates is never used
iptables -N scanguard

iptables -A INPUT -m recent --name scanners --update --seconds 300 --hitcount 12 -j DROP
iptables -A INPUT -m recent --name scanners --set -j ACCEPT

iptables -A FORWARD -m recent --name scanners --update --seconds 300 --hitcount 12 -j DROP
iptables -A FORWARD -m recent --name scanners --set -j ACCEPT
