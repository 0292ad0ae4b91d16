#!/bin/sh
# source: Comp8006FirewallGroup/StandAloneFirewall firewall.sh (abridged)
IPT="iptables"
ENABLE_DHCP="1"

PS4='$LINENO '

INTERNET="wlp2s0"
IPADDR="10.64.205.150"
NAMESERVER="0.0.0.0/0"
USER_CHAINS="ssh www"
UNPRIVPORTS="1024:65535"
DNS_PORT="53"

$IPT -F
$IPT -X
$IPT --policy INPUT ACCEPT

if [ "$1" = "stop" ]
then
	echo "Firewall cleared"
	exit 0
fi

$IPT --policy INPUT DROP

for UC in $USER_CHAINS
do
	$IPT -N $UC
done

if [ $ENABLE_DHCP = "1" ]
then
	$IPT -A OUTPUT -o $INTERNET -p udp \
				--dport 67:68 \
				--sport $UNPRIVPORTS \
				-j ACCEPT
fi

for NS in $NAMESERVER
do
$IPT -A OUTPUT -o $INTERNET -p udp \
			--dport $DNS_PORT \
			--sport $UNPRIVPORTS \
			-j ACCEPT
done

$IPT -A OUTPUT -p tcp --dport 22 -j ssh
$IPT -A ssh -o $INTERNET -p tcp \
			--sport $UNPRIVPORTS \
			-d $IPADDR --dport 22 -j ACCEPT

$IPT -A OUTPUT -m tcp -p tcp --dport 443 -j www
$IPT -A www -i 	$INTERNET -m tcp -p tcp \
			--sport $UNPRIVPORTS \
			-d $IPADDR --dport 443 -j DROP

$IPT -A www
