# modelled on: manki23/roger-skyline-1 scripts/ddos.sh (rewritten for fwmigrate's tests, not a copy): an anti-DDoS list run with sudo: mangle PREROUTING drops (INVALID, NEW without SYN, -m tcpmss ! --mss LOW:65535), limit and connlimit in filter
# run once as the admin user
sudo iptables -t mangle -A PREROUTING -p tcp ! --syn -m conntrack --ctstate NEW -j DROP
sudo iptables -t mangle -A PREROUTING -m conntrack --ctstate INVALID -j DROP
# an MSS no real stack sends
sudo iptables -t mangle -A PREROUTING -p tcp -m conntrack --ctstate NEW -m tcpmss ! --mss 536:65535 -j DROP

sudo iptables -A INPUT -p tcp -m connlimit --connlimit-above 40 -j REJECT --reject-with tcp-reset
sudo iptables -A INPUT -p tcp -m conntrack --ctstate NEW -m limit --limit 40/s --limit-burst 15 -j ACCEPT
sudo iptables -A INPUT -p tcp -m conntrack --ctstate NEW -j DROP
sudo iptables -A INPUT -p icmp --icmp-type echo-request -m limit --limit 2/s -j ACCEPT
sudo iptables -A INPUT -p tcp --dport 443 -m limit --limit 30/minute --limit-burst 60 -j ACCEPT
