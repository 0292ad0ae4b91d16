# modelled on: msgpo/AFtweak scripts/DNSCryptproxyv2on.sh (rewritten for fwmigrate's tests, not a copy): DNS sent to a local dnscrypt-proxy by nat OUTPUT DNAT; the ip6tables line keeps an IPv4 ! -d and an unquoted [::1]:PORT, which the shell takes as a glob
iptables -t nat -A OUTPUT -p udp --dport 53 ! -d 192.0.2.53 -j DNAT --to-destination 127.0.0.1:5300
ip6tables -t nat -A OUTPUT -p udp --dport 53 ! -d 192.0.2.53 -j DNAT --to-destination [::1]:5300
iptables -t nat -A OUTPUT -p tcp --dport 53 ! -d 192.0.2.53 -j DNAT --to-destination 127.0.0.1:5300
