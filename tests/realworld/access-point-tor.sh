# modelled on: crag-h4k/gud-os pi/access-point/iptables-eth0.sh (rewritten for fwmigrate's tests, not a copy): a Pi access point whose clients' DNS and new TCP go to local Tor ports, saved through `sh -c`
iptables -t nat -A PREROUTING -i wlan0 -p tcp --syn -j REDIRECT --to-ports 9040
iptables -t nat -A PREROUTING -i wlan0 -p udp --dport 53 -j REDIRECT --to-ports 5353
iptables -t nat -A POSTROUTING -o eth1 -j MASQUERADE
# keep it for the next boot
sh -c "iptables-save > /etc/iptables/ap-nat.rules"
