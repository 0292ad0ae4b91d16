#!/bin/sh
# source: ClementP34/fw firewall.sh (abridged: an init script with functions and case "$1")
SSH="22"
INTERNE="eth1"
EXTERNE="eth0"

fw_start(){
        echo 1 > /proc/sys/net/ipv4/ip_forward
        iptables -t filter      -F
        iptables -t nat         -F
        iptables -t filter      -P INPUT DROP
        iptables -t filter -A INPUT -i $EXTERNE -p icmp -j ACCEPT
        iptables -t nat -A POSTROUTING -o $EXTERNE -j MASQUERADE
        iptables -t filter -A INPUT -i lo -s 127.0.0.0/8 -d 127.0.0.0/8 -j ACCEPT
        iptables -t filter -A INPUT -i $INTERNE -p tcp --dport $SSH -j ACCEPT
}

fw_stop(){
        iptables -t filter      -F
        iptables -t filter      -P INPUT ACCEPT
}

case "$1" in
        start|restart)
                fw_start
                ;;
        stop)
                fw_stop
                ;;
esac

exit 0
