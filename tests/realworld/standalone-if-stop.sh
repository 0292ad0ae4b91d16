#!/bin/sh
# modelled on: Comp8006FirewallGroup/StandAloneFirewall firewall.sh (rewritten for fwmigrate's tests, not a copy): a course-work firewall: PS4, --policy, if [ "$1" = "stop" ] (refused), for over words, tab-indented continuation lines, a tab inside -i, a rule with no target
IPT="iptables"
PS4='+$LINENO '

EXT_IF="enp4s0"
HOST_ADDR="192.0.2.30"
RESOLVERS="0.0.0.0/0"
CHAINS="admin web"
HIGH="1024:65535"
WITH_DHCP="1"

$IPT --policy INPUT ACCEPT
$IPT --policy OUTPUT ACCEPT
$IPT -F
$IPT -X

if [ "$1" = "stop" ]
then
	echo "rules cleared, policies open"
	exit 0
fi

$IPT --policy OUTPUT DROP
for C in $CHAINS
do
	$IPT -N $C
done

if [ $WITH_DHCP = "1" ]
then
	$IPT -A OUTPUT -o $EXT_IF -p udp \
			--sport 68 \
			--dport 67 -j ACCEPT
fi

for R in $RESOLVERS
do
$IPT -A OUTPUT -o $EXT_IF -p udp \
		--sport $HIGH \
		--dport 53 -d $R -j ACCEPT
done

$IPT -A INPUT -m tcp -p tcp --dport 80 -j web
$IPT -A web -i 	$EXT_IF -m tcp -p tcp \
		--sport $HIGH \
		-d $HOST_ADDR --dport 80 -j ACCEPT
$IPT -A web
