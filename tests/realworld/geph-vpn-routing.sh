# modelled on: geph-official/geph4-client src/connect/vpn/linux_routing_setup.sh (rewritten for fwmigrate's tests, not a copy): the indented body of a VPN setup function: `id -u` in backquotes, the -D-then-A idiom, a comma list of destinations, DNAT with -m owner after -j and --to, TCPMSS --set-mss, ip6tables owner REJECT
    export PATH=$PATH:/sbin:/usr/sbin
    # every process but ours goes through the tunnel
    iptables -t mangle -D OUTPUT -m owner ! --uid-owner `id -u` -j MARK --set-mark 4242
    iptables -t mangle -A OUTPUT -m owner ! --uid-owner `id -u` -j MARK --set-mark 4242
    iptables -t mangle -D OUTPUT -d 192.168.0.0/16,10.0.0.0/8,172.16.0.0/12 -j MARK --set-mark 7
    iptables -t mangle -A OUTPUT -d 192.168.0.0/16,10.0.0.0/8,172.16.0.0/12 -j MARK --set-mark 7
    ip rule add fwmark 4242 table 4242
    ip route add default dev tunvpn table 4242
    iptables -t nat -A POSTROUTING -o tunvpn -j MASQUERADE
    # resolver inside the tunnel
    iptables -t nat -A OUTPUT -p tcp --dport 53 -j DNAT -m owner ! --uid-owner 999 --to 192.0.2.53:53
    iptables -t nat -A OUTPUT -p udp --dport 53 -j DNAT -m owner ! --uid-owner 999 --to 192.0.2.53:53
    iptables -t mangle -A OUTPUT -p tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1300
    # no IPv6 around the tunnel
    ip6tables -A OUTPUT -m owner ! --uid-owner 999 -j REJECT
    ip6tables -I OUTPUT -o lo -j ACCEPT
