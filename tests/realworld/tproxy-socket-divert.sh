# modelled on: Zensey/transparent-proxy README.md (rewritten for fwmigrate's tests, not a copy): the kernel-doc transparent-proxy recipe: a mark-and-accept chain reached through -m socket (refused), TPROXY with --on-ip and a mark mask, local output marked for re-routing
ip route add local 0.0.0.0/0 dev lo table 100
ip rule add fwmark 1 lookup 100

iptables -t mangle -N SOCK_SEEN
iptables -t mangle -A SOCK_SEEN -j MARK --set-mark 1
iptables -t mangle -A SOCK_SEEN -j ACCEPT
iptables -t mangle -A PREROUTING -p tcp -m socket -j SOCK_SEEN

iptables -t mangle -N TP_IN
iptables -t mangle -A TP_IN -p tcp -d 10.0.0.0/8 -j RETURN
iptables -t mangle -A TP_IN -p tcp -d 127.0.0.0/8 -j RETURN
iptables -t mangle -A TP_IN -p tcp -m mark --mark 0xff -j RETURN
iptables -t mangle -A TP_IN -p tcp -j TPROXY --tproxy-mark 0x1/0x1 --on-ip 127.0.0.1 --on-port 12000
iptables -t mangle -A PREROUTING -p tcp -j TP_IN

iptables -t mangle -N TP_OUT
iptables -t mangle -A TP_OUT -p tcp -m mark --mark 0xff -j RETURN
iptables -t mangle -A TP_OUT -p tcp -d 127.0.0.0/8 -j RETURN
iptables -t mangle -A TP_OUT -p tcp -j MARK --set-mark 1
iptables -t mangle -A OUTPUT -p tcp -m multiport --dports 80,443 -j TP_OUT
