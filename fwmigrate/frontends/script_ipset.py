"""A script's `ipset` lines: creating, filling and emptying sets is followed, so that the
rules' sets come from the script (the replay is ipset_save.IpsetReplay)."""

from __future__ import annotations

from .ipset_save import CHANGING, READ_ONLY
from .ipset_sets import IpsetError

_IPSET_HINT = ("give the sets as `ipset save` prints them with --ipsets FILE, and pass "
               "--skip-unknown to step over this line")


def ipset_command(reader, fields, handled: bool) -> bool:
    """An ipset command: creating, filling and emptying sets is followed (the rules'
    sets then come from the script); reading them changes nothing; `restore` from a file
    and `test` (whose answer a script may act on) are not followed."""
    words = [(f.text, f.pos) for f in fields[1:] if f.text not in ("-q", "-quiet")]
    verb = next((w for w, _ in words if w not in ("-exist", "-!")), None)
    if verb in READ_ONLY:
        reader.diags.note(reader.loc(fields[0].pos), f"`ipset {verb}' does not change the "
                          "firewall; skipped")
        return True
    if verb not in CHANGING:
        reader.unknown(fields[0].pos, f"`ipset {verb or ''}' changes or reads the sets in a "
                       "way fwmigrate cannot follow without running it", _IPSET_HINT)
        return True
    try:
        reader.ipsets.run(words, reader.loc(fields[0].pos))
    except IpsetError as exc:
        if not handled:             # `|| true`: the script expects it may fail
            reader.diags.error(reader.loc(exc.col), f"ipset: {exc.message}", exc.hint)
        return False
    return True
