#!/bin/sh
# modelled on: BullShark/dotfiles src/iptables-allow-everything.sh (rewritten for fwmigrate's tests, not a copy): both families opened completely: -Z, -F, -X and ACCEPT policies, a line of only spaces
# IPv4 first: counters, rules, user chains, then nothing is dropped
iptables -Z
iptables -F
iptables -X
iptables -P FORWARD ACCEPT
iptables -P OUTPUT ACCEPT
iptables -P INPUT ACCEPT
   
# and IPv6 the same way
ip6tables -P FORWARD ACCEPT
ip6tables -P OUTPUT ACCEPT
ip6tables -P INPUT ACCEPT
ip6tables -Z
ip6tables -F
ip6tables -X
