#!/bin/bash
# source: a148ru/puppet_files enveroments/production/modules/iptables/files/ot_iptables_rules.sh
PATH="$PATH:/usr/sbin"

iptables -A FORWARD -j DOCKER-USER
iptables -A FORWARD -j DOCKER-ISOLATION-STAGE-1
iptables -A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
iptables -A FORWARD -o docker0 -j DOCKER
iptables -A FORWARD -i docker0 ! -o docker0 -j ACCEPT
iptables -A FORWARD -i docker0 -o docker0 -j ACCEPT
iptables -I DOCKER-USER -j ACCEPT
