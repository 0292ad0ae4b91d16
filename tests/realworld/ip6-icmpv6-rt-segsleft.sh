# modelled on: cllorenz/fave-project fave/ip6np/iptables_ruleset_reduced.sh (rewritten for fwmigrate's tests, not a copy): an ip6tables host and router with DROP policies, named ICMPv6 types (neighbour-*, ttl-zero-during-transit, unknown-header-type, unknown-option), --limit N/min, and routing-header rules -m ipv6header --header ipv6-route -m rt (! --rt-segsleft)
ip6tables -P OUTPUT DROP
ip6tables -P INPUT DROP
ip6tables -P FORWARD DROP

ip6tables -A INPUT -i lo -j ACCEPT
ip6tables -A INPUT -i lan6 -p icmpv6 --icmpv6-type neighbour-solicitation -j ACCEPT
ip6tables -A OUTPUT -o lan6 -p icmpv6 --icmpv6-type neighbour-advertisement -j ACCEPT
ip6tables -A INPUT -p icmpv6 --icmpv6-type echo-request -m limit --limit 600/min -j ACCEPT
ip6tables -A OUTPUT -p icmpv6 --icmpv6-type packet-too-big -j ACCEPT
ip6tables -A INPUT -i lan6 -p tcp --dport 443 -j ACCEPT

ip6tables -A FORWARD -o lan6 -p icmpv6 --icmpv6-type unknown-header-type -j ACCEPT
ip6tables -A FORWARD -o lan6 -p icmpv6 --icmpv6-type ttl-zero-during-transit -j ACCEPT
ip6tables -A FORWARD -p icmpv6 --icmpv6-type echo-reply -m limit --limit 600/min -j ACCEPT
ip6tables -A FORWARD -o lan6 -p icmpv6 --icmpv6-type unknown-option -j ACCEPT

# routing headers: type 0 with segments left, type 2 with other than one
ip6tables -A FORWARD -i wan6 -m ipv6header --header ipv6-route -m rt --rt-type 0 ! --rt-segsleft 0 -j DROP
ip6tables -A FORWARD -i wan6 -m ipv6header --header ipv6-route -m rt --rt-type 2 ! --rt-segsleft 1 -j DROP
ip6tables -A FORWARD -m ipv6header --header ipv6-route -m rt ! --rt-segsleft 0 -j REJECT

ip6tables -A FORWARD -o lan6 -p udp --dport 443 -j ACCEPT
