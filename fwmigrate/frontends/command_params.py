"""The parser's options other than commands and extensions' (-p -s -d -i -o -j -m -t -c -n …)."""

from __future__ import annotations

from .. import mappings
from ..errors import OptionError, did_you_mean
from ..ir import Counters, Negatable
from .command_flags import NEGATABLE, WHOLE_WORD, check_interface
from .extensions import _intrapositioned
from .values_common import scanf_u64
from .values_numbers import protocol_number


class ParameterOptions:
    """Mixed into command_line._Parser, which supplies words, seen, glued, cmd, proto …"""

    def _param(self, name: str, flag: str, i: int) -> int:
        negated = self._negation(i, flag, name in NEGATABLE)
        if name in ("verbose", "numeric", "exact", "line-numbers", "ipv4", "ipv6"):
            if name in ("numeric", "exact", "line-numbers"):
                self._once(name, {"numeric": "-n", "exact": "-x"}.get(name, flag), i)
            else:
                self.seen.setdefault(name, i)       # -v -v, -4 -4 are allowed
            if name == "ipv6" and self.family == "ip" or name == "ipv4" and self.family == "ip6":
                raise OptionError(f"This is {'IPv4' if self.family == 'ip' else 'IPv6'} "
                                  f"iptables; {flag} is not allowed here", i)
            return i + 1
        if name == "wait":
            nxt = self._optional(i + 1)
            return i + 2 if nxt is not None and nxt.replace(".", "", 1).isdigit() else i + 1
        if name in ("wait-interval", "modprobe"):
            self._take(i + 1, flag)
            return i + 2
        if name == "fragment":
            if self.family == "ip6":
                raise OptionError('unknown option "-f"', i,
                                  hint="ip6tables has no -f; fragments are matched with -m frag")
            self._once(name, "-f", i)
            self.fragment = Negatable(True, negated)
            return i + 1
        value = self._take(i + 1, flag)
        if i + 1 in self.glued and name in WHOLE_WORD:
            # iptables 1.8.9 rereads these options' value from the word before its optind
            # (for the old `-s ! addr` negation): the whole `--opt=value` or `-ptcp` word
            word = self.glued[i + 1]
            if name.endswith("interface"):
                raise OptionError(f"iptables 1.8.9 takes the whole word `{word}' as the "
                                  "interface name (a rule for an interface of that name)", i,
                                  hint=f"write {flag} {value}")
            raise OptionError(f"iptables 1.8.9 takes the whole word `{word}' as the {name}, "
                              "and refuses it", i, hint=f"write {flag} {value}")
        if value == "!" and name in NEGATABLE:
            raise OptionError(_intrapositioned(flag), i + 1,
                              hint=f"write the negation before the option: ! {flag} …")
        if name == "table":
            if self.restore:
                raise OptionError("The -t option (seen in line) cannot be used in "
                                  "iptables-restore", i)
            self.seen[name] = i             # `-t nat -t nat`: iptables takes the last
            if value not in mappings.iptables_tables():
                raise OptionError(f"can't initialize iptables table `{value}': Table does not "
                                  "exist", i + 1, hint="tables are " +
                                  ", ".join(mappings.iptables_tables()))
            self.cmd.table = value
            self.table_given = True
        elif name == "protocol":
            self._once(name, "-p", i)
            try:
                number = protocol_number(value)
            except OptionError:
                raise OptionError(f'unknown protocol "{value}" specified', i + 1,
                                  hint=did_you_mean(value.lower(), mappings.protocol_numbers())
                                  ) from None
            if number == 0:
                if negated:
                    raise OptionError("rule would never match protocol", i)
                self.proto = None
            else:
                self.proto = Negatable(number, negated)
        elif name in ("source", "destination"):
            # parsed in _expand: the rest of the rule does not depend on the address
            self._once(name, "-s" if name == "source" else "-d", i)
            self.addresses[name] = (i + 1, negated)
        elif name in ("in-interface", "out-interface"):
            self._once(name, "-i" if name == "in-interface" else "-o", i)
            check_interface(value, i + 1)
            if value == "+" and negated:
                raise OptionError(f"`! {flag} +' never matches (every packet has an interface), "
                                  "so the rule has no effect", i,
                                  hint="remove the rule", unsupported=True)
            iface = Negatable(value, negated)
            if name == "in-interface":
                self.iface_in = iface
            else:
                self.iface_out = iface
        elif name in ("jump", "goto"):
            self._once("jump", flag if name == "jump" else "-g", i)
            self._jump(value, i + 1, name == "goto")
        elif name == "match":
            self._load_match(value, i + 1)
        elif name == "set-counters":
            self._once(name, "-c", i)
            return self._counters(value, i, flag)
        return i + 2

    def _counters(self, value: str, i: int, flag: str) -> int:
        """`-c PACKETS BYTES` or `-c PACKETS,BYTES`, each read as iptables reads it."""
        comma = value.find(",", 1)
        octets = value[comma + 1:] if comma >= 0 else self._optional(i + 2)
        if octets is None:
            raise OptionError(f"{flag} requires packet and byte counter", i)
        packets, octets_read = scanf_u64(value), scanf_u64(octets)
        if packets is None:
            raise OptionError(f"{flag} packet counter not numeric", i + 1)
        if octets_read is None:
            raise OptionError(f"{flag} byte counter not numeric", i + 1 if comma >= 0 else i + 2)
        self.counters = Counters(packets[0], octets_read[0])
        return i + 2 if comma >= 0 else i + 3
