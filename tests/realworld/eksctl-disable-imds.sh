#!/bin/bash
# modelled on: eksctl-io/eksctl pkg/nodebootstrap/assets/disable-imds.al2.sh (rewritten for fwmigrate's tests, not a copy): a node bootstrap that installs iptables-services with yum, then blocks pods (eni+) from the metadata address in long options, saves through tee and enables the service
set -o nounset -o errexit
set -o pipefail

# the saved rules are loaded at boot by the iptables service
yum install -y iptables-services
iptables --insert FORWARD 1 --in-interface eni+ --destination 169.254.169.254/32 --jump DROP
iptables-save | tee /etc/sysconfig/iptables >/dev/null
systemctl enable --now iptables
