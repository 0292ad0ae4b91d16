# modelled on: gatement/jpass-trans script/setup-tproxy.sh (rewritten for fwmigrate's tests, not a copy): TPROXY with --tproxy-mark, policy routing to lo, and `! -d 10.20.0.1/24` with host bits set in the prefix
ip rule add fwmark 1 lookup 100
ip route add local 0.0.0.0/0 dev lo table 100
iptables -t mangle -F
iptables -t filter -F
iptables -t filter -P FORWARD ACCEPT
iptables -t mangle -A PREROUTING -p tcp -d 172.31.9.0/24 -j ACCEPT
iptables -t mangle -A PREROUTING -p tcp ! -d 10.20.0.1/24 -j TPROXY --on-port 7893 --tproxy-mark 1
