"""`fwmigrate status`: what fwmigrate has put in the kernel, and who has knocked."""

from __future__ import annotations

from typing import Any

from .kernel import Kernel


def status(kernel: Kernel, tables: set[tuple[str, str]] | None) -> dict[str, Any]:
    """Tables (ours: named fwmigrate, or as a table of the latest apply, `tables`, in any
    family), chains with rule counts, set members."""
    listing = kernel.ruleset().get("nftables", [])
    found = [i["table"] for i in listing if "table" in i]
    # a family the latest input had no rules for keeps its table from an earlier apply
    names = {"fwmigrate"} | {name for _family, name in tables or ()}
    ours = {(t["family"], t["name"]) for t in found if t["name"] in names}
    out: dict[str, Any] = {"tables": []}
    for family, name in sorted(ours):
        entry: dict[str, Any] = {"family": family, "name": name, "chains": [], "sets": []}
        counts: dict[str, int] = {}
        for item in listing:
            if "rule" in item and (item["rule"]["family"], item["rule"]["table"]) == (family, name):
                counts[item["rule"]["chain"]] = counts.get(item["rule"]["chain"], 0) + 1
        for item in listing:
            obj = item.get("chain")
            if obj and (obj["family"], obj["table"]) == (family, name):
                chain = {"name": obj["name"], "rules": counts.get(obj["name"], 0)}
                if "hook" in obj:
                    chain.update(hook=obj["hook"], priority=obj["prio"], policy=obj["policy"])
                entry["chains"].append(chain)
            obj = item.get("set")
            if obj and (obj["family"], obj["table"]) == (family, name):
                kind = obj["type"] if isinstance(obj["type"], str) else " . ".join(obj["type"])
                entry["sets"].append({"name": obj["name"], "type": kind,
                                      "timeout": obj.get("timeout"),
                                      "members": [_member(e) for e in obj.get("elem", [])]})
        out["tables"].append(entry)
    return out


def _member(elem: Any) -> dict[str, Any]:
    if isinstance(elem, dict) and "elem" in elem:
        inner = elem["elem"]
        return {"address": _text(inner["val"]), "expires_in": inner.get("expires")}
    return {"address": _text(elem), "expires_in": None}


def _text(value: Any) -> str:
    if isinstance(value, dict) and "prefix" in value:
        return f"{value['prefix']['addr']}/{value['prefix']['len']}"
    if isinstance(value, dict) and "concat" in value:       # a hashlimit key or an ipset member
        return " . ".join(_text(v) for v in value["concat"])
    if isinstance(value, dict) and "range" in value:
        return "-".join(_text(v) for v in value["range"])
    return str(value)


def render(data: dict[str, Any]) -> str:
    if not data["tables"]:
        return "fwmigrate has no tables in this ruleset.\n"
    lines = []
    for t in data["tables"]:
        lines.append(f"table {t['family']} {t['name']}")
        for c in t["chains"]:
            hook = (f"  (hook {c['hook']}, priority {c['priority']}, policy {c['policy']})"
                    if "hook" in c else "")
            lines.append(f"  chain {c['name']}: {c['rules']} rules{hook}")
        for s in t["sets"]:
            timeout = f", entries expire after {s['timeout']}s" if s["timeout"] else ""
            count = len(s["members"])
            kind = " . ".join(s["type"]) if isinstance(s["type"], list) else s["type"]
            lines.append(f"  set {s['name']} ({kind}{timeout}): "
                         f"{count or 'no'} member{'s' if count != 1 else ''}")
            for m in s["members"]:
                left = f" ({m['expires_in']}s left)" if m["expires_in"] is not None else ""
                lines.append(f"    {m['address']}{left}")
    return "\n".join(lines) + "\n"
