# modelled on: rodrigocamargo854/scripts_bash_v1 port/rules1.sh (rewritten for fwmigrate's tests, not a copy): a bash array walked with "${list[@]}", a non-ASCII echo in the loop
fermees=(8080 8443 3306)

# une règle par port
for p in "${fermees[@]}"; do
    iptables -A INPUT -p tcp --dport $p -j DROP
    echo "Port $p fermé à l'entrée."
done
