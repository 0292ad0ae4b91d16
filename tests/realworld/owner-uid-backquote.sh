# modelled on: jlab/gapc-cafe server/iptables.sh (rewritten for fwmigrate's tests, not a copy): set -e and set -u, the uid of a service user from backquoted `id -u`, -m owner rules in a chain of their own
set -u
set -e

UID=`id -u webrunner`

iptables -N runner_out
iptables -A runner_out -m owner --uid-owner $UID -p tcp -d 127.0.0.1 -j ACCEPT
iptables -A runner_out -m owner --uid-owner $UID -p tcp --dport 1:1023 -j REJECT
iptables -A runner_out -m owner --uid-owner $UID -j REJECT
iptables -A OUTPUT -j runner_out
