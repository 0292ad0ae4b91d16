"""Writers that turn the IR into rulesets (nftables text, iptables-restore text)."""
