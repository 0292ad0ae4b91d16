#!/usr/bin/env bash
# source: public GitHub script found by `search` (repository not shown by the index): ip${x}tables in a loop, $1.. arguments
[ "$1" == "down" ] && needed=2 || needed=3
action=$1
uid=$2
interface=$3
chain=RVPN$uid
shift 3

for x in '' 6
do
	if [ "$action" == "down" ]
	then
		sudo ip${x}tables -D OUTPUT -j $chain
	else
		sudo ip${x}tables -N $chain
		sudo ip${x}tables -I $chain ! -o lo+ -m owner --uid-owner $uid -j REJECT
		sudo ip${x}tables -I $chain -o $interface -m owner --uid-owner $uid -j ACCEPT
	fi
done
