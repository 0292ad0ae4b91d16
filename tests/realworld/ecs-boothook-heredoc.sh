#!/bin/bash
# modelled on: STollenaar/infrastructure conf/boothook.sh (rewritten for fwmigrate's tests, not a copy): a cloud boot hook: yum first, a here-document that writes the restore file, sudo iptables for the ECS agent's metadata address
yum -y install iptables-services

cat <<RULES >/etc/sysconfig/iptables
*filter
:DOCKER-USER - [0:0]
-A DOCKER-USER -d 169.254.169.254/32 -j DROP
COMMIT
RULES

sudo sysctl -w net.ipv4.conf.all.route_localnet=1
sudo iptables -t nat -A OUTPUT -p tcp -m tcp -d 169.254.170.2 --dport 80 -j REDIRECT --to-ports 51679
sudo iptables -t nat -A PREROUTING -d 169.254.170.2 -p tcp --dport 80 -j DNAT --to-destination 127.0.0.1:51679
systemctl enable --now iptables
