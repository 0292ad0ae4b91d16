# modelled on: chrisfrazier0/firewall chains/bad_tcp_packets.sh (rewritten for fwmigrate's tests, not a copy): a chain file meant to be sourced; $IPT and $LAN_IF come from the script that sources it
$IPT -A tcp_sanity -p tcp -i $LAN_IF -j RETURN
$IPT -A tcp_sanity -p tcp --tcp-flags ALL NONE -j LOG --log-prefix "null scan: "
$IPT -A tcp_sanity -p tcp --tcp-flags ALL NONE -j DROP
$IPT -A tcp_sanity -p tcp --tcp-flags SYN,FIN SYN,FIN -j DROP
$IPT -A tcp_sanity -p tcp ! --syn -m state --state NEW -j LOG --log-prefix "new, no syn: "
$IPT -A tcp_sanity -p tcp ! --syn -m state --state NEW -j DROP
