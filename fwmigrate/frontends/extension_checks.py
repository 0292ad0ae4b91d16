"""Checks iptables (or the kernel) makes on one extension's values once the command is read:
the combinations of options each module refuses (`--seconds` without --rcheck, a statistic
--packet past --every). extensions.py runs them when it assembles a match or target.
"""

from __future__ import annotations

from ..errors import OptionError
from ..ir import Option
from .clusterip import check_clusterip
from .connmark_masks import check_connmark, connmark_option
from .limit_values import check_connlimit, check_hashlimit, normal_direction
from .policy_elements import normal_policy, policy_checks
from .rateest_values import check_estimator, check_rateest
from .values_readonly import check_cluster, check_hmark, check_string
from .xt_values import ct_option, ecn_option, normal_ct, normal_ecn


def _check_recent(by_name: dict[str, Option], index: int) -> None:
    mode = by_name["mode"].value
    for count in ("seconds", "hitcount"):
        if count in by_name and by_name[count].value == 0:
            raise OptionError(f"recent: --{count} must be at least 1", index)
    if "rttl" in by_name and mode not in ("rcheck", "update"):
        raise OptionError("recent: --rttl may only be used with --rcheck or --update", index)
    if "hitcount" in by_name and by_name["hitcount"].value > 20:
        raise OptionError(f"recent: --hitcount {by_name['hitcount'].value} is larger than the "
                          "kernel allows (20)", index,
                          hint="xt_recent keeps ip_pkt_list_tot (default 20) hits per address")
    if "reap" in by_name and "seconds" not in by_name:
        raise OptionError('recent: option "--reap" also requires "--seconds".', index)
    if mode in ("set", "remove") and ("seconds" in by_name or "hitcount" in by_name):
        raise OptionError(f"recent: --seconds and --hitcount only work with --rcheck or "
                          f"--update, not --{mode}", index,
                          hint="the kernel refuses this rule (Invalid argument)")


def _check_statistic(by_name: dict[str, Option], index: int) -> None:
    mode = by_name["mode"].value
    if mode == "random" and "probability" not in by_name:
        raise OptionError("--probability must be specified when using random mode", index)
    if mode == "nth" and ("every" not in by_name or "packet" not in by_name):
        raise OptionError("--every and --packet must be specified when using nth mode", index)
    if mode == "random" and ("every" in by_name or "packet" in by_name) or \
            mode == "nth" and "probability" in by_name:
        raise OptionError(f"statistic: option not valid in {mode} mode", index)
    if mode == "nth":
        if by_name["every"].value == 0:
            raise OptionError("statistic: --every must be at least 1", index)
        if by_name["packet"].value > by_name["every"].value - 1:
            raise OptionError("the --packet p must be 0 <= p <= n-1", index)


def _check_addrtype(by_name: dict[str, Option], index: int) -> None:
    if "src-type" not in by_name and "dst-type" not in by_name:
        raise OptionError("addrtype: you must specify --src-type or --dst-type", index)


def _check_set_target(by_name: dict[str, Option], index: int) -> None:
    if not {"add-set", "del-set", "map-set"} & by_name.keys():
        raise OptionError("SET target: you must specify --add-set, --del-set or --map-set",
                          index)
    if ("timeout" in by_name or "exist" in by_name) and "add-set" not in by_name:
        raise OptionError("SET target: --timeout and --exist go with --add-set", index)
    maps = [f for f in ("map-mark", "map-prio", "map-queue") if f in by_name]
    if maps and "map-set" not in by_name:
        raise OptionError(f"Flag `--{maps[0]}' can be used with `--map-set' only", index)
    if "map-set" in by_name and not maps:
        raise OptionError("You must specify flags `--map-mark' or '--map-prio` or "
                          "`--map-queue'", index)


def _check_nfqueue(by_name: dict[str, Option], index: int) -> None:
    if "queue-cpu-fanout" in by_name and "queue-balance" not in by_name:
        raise OptionError('NFQUEUE: option "--queue-cpu-fanout" also requires '
                          '"--queue-balance".', index)


TARGET_CHECKS = {"NFQUEUE": _check_nfqueue, "SET": _check_set_target, "HMARK": check_hmark,
                 "CLUSTERIP": check_clusterip, "RATEEST": check_estimator,
                 "CONNMARK": check_connmark}

# what an option changes in the extension's other options as it is read, in the order given
# (CONNMARK's --ctmask after a set operation is that operation's mask)
AFTER_OPTION = {"CONNMARK": connmark_option, "CT": ct_option, "ECN": ecn_option}

# targets iptables stores differently from how they were written, by the order given (CT's
# zones, ECN's --ecn-tcp-remove): target → (the options in their order, word index) → stored
NORMAL_TARGETS = {"CT": normal_ct, "ECN": normal_ecn}


def _check_rt(by_name: dict[str, Option], index: int) -> None:
    # libip6t_rt reads the type 0 options only after `--rt-type 0` (not inverted)
    rt_type = by_name.get("rt-type")
    if rt_type is not None and (rt_type.value == 0 and not rt_type.negated):
        return
    for name in ("rt-0-res", "rt-0-addrs"):
        if name in by_name:
            raise OptionError(f"`--rt-type 0' required before `--{name}'", index)


def _check_time(by_name: dict[str, Option], index: int) -> None:
    if "contiguous" in by_name and ("timestart" not in by_name or
                                    by_name["timestart"].value < by_name["timestop"].value):
        raise OptionError("time: --contiguous only makes sense when stoptime is smaller than "
                          "starttime", index)


VALUE_CHECKS = {"recent": _check_recent, "rt": _check_rt, "statistic": _check_statistic,
                 "addrtype": _check_addrtype, "time": _check_time,
                 "hashlimit": check_hashlimit, "connlimit": check_connlimit,
                 "policy": policy_checks, "string": check_string, "rateest": check_rateest,
                 "cluster": check_cluster}

# matches iptables stores differently from how they were written: module → the stored form
# (--pol none keeps no policy element, `! --connlimit-upto` is --connlimit-above)
NORMALISED = {"policy": normal_policy, "hashlimit": normal_direction,
              "connlimit": normal_direction}
