#!/bin/bash
# modelled on: a148ru/puppet_files enveroments/production/modules/iptables/files/ot_iptables_rules.sh (rewritten for fwmigrate's tests, not a copy): PATH extended first, then FORWARD jumps to chains only dockerd creates
export PATH="$PATH:/sbin"
# containers: replies in, anything out
iptables -A FORWARD -j DOCKER-USER
iptables -A FORWARD -j DOCKER-ISOLATION-STAGE-1
iptables -A FORWARD -o docker0 -j DOCKER
iptables -A FORWARD -o docker0 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
iptables -A FORWARD -i docker0 ! -o docker0 -j ACCEPT
iptables -I DOCKER-USER -j ACCEPT
