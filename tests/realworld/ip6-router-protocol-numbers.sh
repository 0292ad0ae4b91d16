# modelled on: maleclercq/Reseau2 firewall/R2.sh (rewritten for fwmigrate's tests, not a copy): a lab IPv6 router that names routing protocols by number: -p 89 (OSPF) and -p 179 (BGP's port, used as a protocol number)
ip6tables -F INPUT
ip6tables -F OUTPUT
ip6tables -F FORWARD
ip6tables -P INPUT DROP
ip6tables -P OUTPUT DROP
ip6tables -P FORWARD DROP

# OSPFv3
ip6tables -A OUTPUT -p 89 -j ACCEPT
ip6tables -A INPUT -p 89 -j ACCEPT

# meant as BGP: 179 is its TCP port, but here it is taken as IP protocol 179
ip6tables -A OUTPUT -p 179 -j ACCEPT
ip6tables -A INPUT -p 179 -j ACCEPT

ip6tables -A INPUT -p ipv6-icmp -j ACCEPT
ip6tables -A OUTPUT -p ipv6-icmp -j ACCEPT
ip6tables -A FORWARD -p ipv6-icmp -j ACCEPT
