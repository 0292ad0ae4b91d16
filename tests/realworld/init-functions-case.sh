#!/bin/sh
# modelled on: ClementP34/fw firewall.sh (rewritten for fwmigrate's tests, not a copy): an init script: variables, start/stop functions and case "$1"
LAN="enp3s0"
WAN="enp2s0"
ADMIN_PORT="2222"

start_rules() {
        echo 1 > /proc/sys/net/ipv4/ip_forward
        iptables -t nat         -F
        iptables -t filter      -F
        iptables -t filter      -P INPUT DROP
        iptables -t filter -A INPUT -i lo -s 127.0.0.0/8 -d 127.0.0.0/8 -j ACCEPT
        iptables -t filter -A INPUT -i $LAN -p tcp --dport $ADMIN_PORT -j ACCEPT
        iptables -t nat -A POSTROUTING -o $WAN -j MASQUERADE
}

stop_rules() {
        iptables -t filter      -P INPUT ACCEPT
        iptables -t filter      -F
}

case "$1" in
        start|reload) start_rules ;;
        stop) stop_rules ;;
        *) echo "usage: $0 start|stop|reload" ;;
esac
exit 0
