#!/bin/bash +x
# modelled on: JohanPaam/fivem-linux johan-script-v2.sh (rewritten for fwmigrate's tests, not a copy): a game server's anti-DDoS script: policy DROP, --tcp-flags masks, ! --syn with NEW, -m ttl, chains filled with -I, limit chains, CT --notrack with SYNPROXY, trailing "# …" comments and blanks, accented comments, -s with host bits
#  Protection du serveur de jeu — à lancer en root (réglages à adapter)

iptables -P INPUT DROP
iptables -A INPUT -s 203.0.113.40 -j ACCEPT   
iptables -A INPUT -p tcp -m tcp --dport 27015 -j ACCEPT
iptables -A INPUT -p udp -m udp --dport 27015 -j ACCEPT
iptables -A INPUT -p tcp -m tcp --dport 2222 -j ACCEPT
iptables -A INPUT -i ens3 -m state --state RELATED,ESTABLISHED -j ACCEPT

# paquets TCP sans drapeaux, ou avec tous, ou NEW sans SYN : à jeter
iptables -A INPUT -p tcp --tcp-flags ALL NONE -j DROP
iptables -A INPUT -i ens3 -p tcp --tcp-flags ALL ALL -j DROP
iptables -A INPUT -p tcp ! --syn -m state --state NEW -j DROP
iptables -A INPUT -p tcp --tcp-flags RST,SYN RST,SYN -j DROP
iptables -A INPUT -i ens3 -p tcp --tcp-flags ACK,URG URG -j DROP
iptables -A INPUT -p tcp --tcp-flags ALL URG,PSH,FIN -j DROP
iptables -A INPUT -p tcp --tcp-flags ALL SYN,RST,ACK,FIN,URG -j DROP

iptables -A INPUT -s 198.51.100.9 -m ttl --ttl-lt 30 -j REJECT
iptables -A OUTPUT -o ens3 -p icmp --icmp-type echo-request -j DROP

# sources impossibles (la seconde garde des bits d'hôte)
iptables -N faux-source
iptables -I faux-source -j DROP
iptables -I faux-source -j LOG --log-prefix "fausse source"
iptables -A INPUT -s 0.0.0.7/8 -j faux-source
iptables -A INPUT -s 255.0.0.0/8 -j faux-source

iptables -N limite-udp
iptables -A limite-udp -p udp --sport 27015 -m limit --limit 20/s --limit-burst 25 -j ACCEPT
iptables -A limite-udp -j DROP # au-delà : jeté

iptables -t raw -A PREROUTING -i ens3 -p tcp -m tcp --syn -j CT --notrack
iptables -A INPUT -p tcp -m tcp -m conntrack --ctstate INVALID,UNTRACKED -j SYNPROXY --sack-perm --timestamp --wscale 9 --mss 1440
iptables -A INPUT -i ens3 -m conntrack --ctstate INVALID -j DROP

#sysctl -w net.ipv4.tcp_syncookies=1
iptables -A INPUT -s 192.0.2.77 -j ACCEPT # panneau d'administration
