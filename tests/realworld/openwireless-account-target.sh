# modelled on: EFForg/OpenWireless etc/firewall.user (rewritten for fwmigrate's tests, not a copy): an OpenWrt firewall.user that counts traffic per subnet with xtables-addons' -j ACCOUNT --addr … --tname …, rules inserted with -I (so written bottom-up), -sADDR with no space, -s 0/0, a variable, and dead rules after `exit 0'
#
# Subnets of this router (10.30.7.0/24):
#   .0/27    wired LAN
#   .96/27   private Wi-Fi
#   .128/27  open Wi-Fi, which must not reach the router or the LAN
#
# -I puts each rule first, so the last one written runs first.

iptables -N acct-lan-wifi
iptables -N acct-wifi-lan

# counters for everything, then per subnet
iptables -I FORWARD -j ACCOUNT --addr 0.0.0.0/0 --tname all-traffic
iptables -I FORWARD -j ACCOUNT --addr 10.30.7.96/27 --tname wifi-private
iptables -I FORWARD -s 10.30.7.96/27 -j acct-wifi-lan

iptables -I INPUT -s10.30.7.128/27 -j DROP

GUEST_DNS="10.30.7.129"
iptables -I INPUT -p udp -s 0/0 --sport 1024:65535 -d $GUEST_DNS --dport 53 -m state --state NEW,ESTABLISHED -j ACCEPT
iptables -I OUTPUT -p udp -s $GUEST_DNS --sport 53 -d 0/0 --dport 1024:65535 -m state --state ESTABLISHED -j ACCEPT

iptables -I FORWARD -s10.30.7.0/24 -d10.30.7.128/27 -j DROP
iptables -I acct-lan-wifi -j ACCOUNT --addr 10.30.7.96/27 --tname lan-to-wifi

exit 0
# not run any more:
PORTS_UDP=53,123,161:162
ip6tables -I INPUT 1 -p 50 -j ACCEPT
ip6tables -I FORWARD -p udp -m multiport --ports $PORTS_UDP -j ACCEPT
ip6tables -I FORWARD -m rt --rt-type 0 -j DROP
