# modelled on: ArthurChiao/arthurchiao.github.io assets/img/cracking-k8s-node-proxy/code/iptables/add-dnat-structured.sh (rewritten for fwmigrate's tests, not a copy): kube-proxy's service chains written by hand: values from `source ../ENV`, chain names in variables, sudo, -p all with 0.0.0.0/0 both ways, -m statistic --probability 0.5 then 1.0, DNAT to $IP:$PORT
source ../ENV
set -x

ENTRY="KUBE-SERVICES"        # where OUTPUT sends everything
SVC="KUBE-SVC-DEMO"          # picks a backend
EP_A="KUBE-SEP-DEMO-A"       # DNAT to the first backend
EP_B="KUBE-SEP-DEMO-B"       # DNAT to the second one

sudo iptables -t nat -N $EP_A
sudo iptables -t nat -N $EP_B
sudo iptables -t nat -A $EP_B -p $L4 -s 0.0.0.0/0 -d 0.0.0.0/0 --dport $SVC_PORT -j DNAT --to-destination $BACKEND_B:$SVC_PORT
sudo iptables -t nat -A $EP_A -p $L4 -s 0.0.0.0/0 -d 0.0.0.0/0 --dport $SVC_PORT -j DNAT --to-destination $BACKEND_A:$SVC_PORT

sudo iptables -t nat -N $SVC
sudo iptables -t nat -A $SVC -p $L4 -s 0.0.0.0/0 -d 0.0.0.0/0 -m statistic --mode random --probability 0.5  -j $EP_A
sudo iptables -t nat -A $SVC -p $L4 -s 0.0.0.0/0 -d 0.0.0.0/0 -m statistic --mode random --probability 1.0  -j $EP_B

sudo iptables -t nat -N $ENTRY
sudo iptables -t nat -A $ENTRY -p $L4 -s 0.0.0.0/0 -d $SVC_IP --dport $SVC_PORT -j $SVC
sudo iptables -t nat -A OUTPUT -p all -s 0.0.0.0/0 -d 0.0.0.0/0 -j $ENTRY
