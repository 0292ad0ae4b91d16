# modelled on: kernt/linuxtools ssh/Use-Port-Knocking.sh (rewritten for fwmigrate's tests, not a copy): three-knock -m recent chains; $IPT is set by the caller (-D IPT=iptables); `-m --state` with no module name is what iptables refuses
$IPT -N knock3
$IPT -A knock3 -m recent --remove --name k2
$IPT -A knock3 -p tcp --dport 7003 -m recent --set --name open

$IPT -N knock2
$IPT -A knock2 -m recent --remove --name k1
$IPT -A knock2 -p tcp --dport 7002 -m recent --set --name k2

$IPT -N gate
$IPT -A gate -m recent --rcheck --seconds 8 --name k2 -j knock3
$IPT -A gate -m recent --rcheck --seconds 8 --name k1 -j knock2
$IPT -A gate -p tcp --dport 7001 -m recent --set --name k1

$IPT -A INPUT -m --state ESTABLISHED,RELATED -j ACCEPT
$IPT -A INPUT -p tcp --dport 22 -m recent --rcheck --seconds 8 --name open -j ACCEPT
$IPT -A INPUT -p tcp --syn -j gate
