"""fwmigrate: move Linux firewalls from iptables to nftables without changing what they do.

Pipeline: frontends (shell scripts, iptables-save files) → IR (fwmigrate.ir) → backends
(nftables text, iptables-restore text).
"""

__version__ = "0.1.0"
