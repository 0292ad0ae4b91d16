# modelled on: hazarjast/5g_rpi4_build etc/firewall.user (rewritten for fwmigrate's tests, not a copy): an OpenWrt firewall.user that sets the TTL and hop limit leaving a cellular modem, each as `-C … > /dev/null 2>&1 || \' then `-I … 1', all with -w

# outgoing hop limit, IPv6 first
ip6tables -w -t mangle -C POSTROUTING -o usb0 -j HL --hl-set 64 > /dev/null 2>&1 || \
ip6tables -w -t mangle -I POSTROUTING 1 -o usb0 -j HL --hl-set 64

# and the IPv4 TTL
iptables -w -t mangle -C POSTROUTING -o usb0 -j TTL --ttl-set 64 > /dev/null 2>&1 || \
iptables -w -t mangle -I POSTROUTING 1 -o usb0 -j TTL --ttl-set 64
