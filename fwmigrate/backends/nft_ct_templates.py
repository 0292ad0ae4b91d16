"""The raw rules whose nft form would not mean what iptables does after -j CT (they read its
template) or after NOTRACK (a -j CT then): frontends/ct_templates.py finds them, here they
are refused."""

from __future__ import annotations

from ..frontends.ct_templates import template_problems as found
from ..ir import Ruleset
from .nft_recent import Untranslatable


def template_problems(ruleset: Ruleset) -> dict[int, Untranslatable]:
    """id of a raw rule → why refused."""
    return {rule: Untranslatable(*why) for table in ruleset.tables
            for rule, why in found(table, (t for t in ruleset.tables
                                           if t.family == table.family)).items()}
