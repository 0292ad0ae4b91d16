#!/bin/bash
# modelled on: bThiiago/Shell-Script Codigos/Arrays/iptables.sh (rewritten for fwmigrate's tests, not a copy): an array of quoted strings walked unquoted (${A[@]}), `do` on its own line, echo -e, udp and tcp per port
SERVICOS=("111" "135" "2049" "23")

echo -e "\nbloqueio por porta"
# cada item do array vira duas regras
for s in ${SERVICOS[@]}
do
echo "fechando $s"
iptables -A INPUT -p tcp --dport $s -j DROP
iptables -A INPUT -p udp --dport $s -j DROP
done
