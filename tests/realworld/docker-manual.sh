# modelled on: denisitpro/ansible-all roles/docker-configure-firewall-v2/files/iptables.sh (rewritten for fwmigrate's tests, not a copy): Docker's chains and NAT set up by hand: -N DOCKER, MASQUERADE with ! -o, explicit -t filter, a closing RETURN
iptables -A OUTPUT -o lo -j ACCEPT
iptables -A INPUT -i lo -j ACCEPT
iptables -A INPUT -i docker0 -j ACCEPT
iptables -A OUTPUT -o docker0 -j ACCEPT

# the chain dockerd would have made
iptables -N DOCKER
iptables -A FORWARD -o docker0 -j DOCKER
iptables -A DOCKER -j RETURN

# containers reach out through the host's address
iptables -t nat -A POSTROUTING -s 172.18.0.0/16 ! -o docker0 -j MASQUERADE
iptables -t filter -A FORWARD -i docker0 -o docker0 -j ACCEPT
iptables -t filter -A FORWARD -i docker0 ! -o docker0 -j ACCEPT
iptables -t filter -A FORWARD -o docker0 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
