"""Modules fwmigrate reads but does not translate to nft: `--to iptables-restore` keeps them
in iptables-save's canonical form, and the nft backend refuses each with the reason from
mappings/extensions.toml [not_translated] (never a silent drop)."""

import pytest

from fwmigrate import mappings
from fwmigrate.convert import ConvertOptions, convert
from fwmigrate.errors import FwmigrateError

# (program, rule as written, the rule as iptables-save prints it)
READ_ONLY = [
    ("ip6tables", "-m srh ! --srh-next-hdr 17 --srh-segs-left-gt 1 --srh-psid a::/64",
     "-m srh ! --srh-next-hdr 17 --srh-segs-left-gt 1 --srh-psid a::/64"),
    ("ip6tables", "-m srh --srh-lsid c::1/0", "-m srh --srh-lsid c::1/0"),
    ("ip6tables", "-m srh", "-m srh"),
    ("iptables", "-m ipvs ! --vaddr 1.2.3.4/255.255.0.0 --vport http --vdir original "
     "--vmethod gate", "-m ipvs ! --vaddr 1.2.3.4/16 --vport 80 --vdir ORIGINAL --vmethod GATE"),
    ("iptables", "-m ipvs --vaddr 1.2.3.4", "-m ipvs --vaddr 1.2.3.4"),
    # forms iptables-legacy-save printed after iptables-legacy loaded them (Linux 6.18)
    ("iptables", "-m string --hex-string '|41|42' --algo bm",
     '-m string --string "A42" --algo bm'),
    ("iptables", "-m string ! --string 'a\"b\\\\' --algo kmp --icase",
     '-m string ! --hex-string "|6122625c5c|" --algo kmp --icase'),
    ("iptables", "-m string --hex-string 'a| 0a 0b |b' --algo bm --from 0 --to 100",
     '-m string --hex-string "|610a0b62|" --algo bm --to 100'),
]

# (program, rule, iptables' error)
REFUSED = [
    ("iptables", "-m ipvs", "IPVS: At least one option is required"),
    ("iptables", "-m ipvs --vport 1:2", "invalid port/service `1:2'"),
    ("iptables", "-m ipvs ! --vdir REPLY", 'option "--vdir" cannot be inverted'),
    ("iptables", "-m ipvs --vmethod bogus", 'Bad value for "--vmethod" option: "bogus"'),
    ("iptables", "-m string --string x --algo bm --from 10 --to 5", "--from is after --to"),
    ("iptables", "-m string --hex-string 'a|0|b' --algo bm", "Invalid hex char"),
    ("iptables", "-m string --string " + "x" * 129 + " --algo bm", "STRING too long"),
    ("iptables", "-m string --string x --algo wrong", "unknown string search algorithm"),
]


def _script(program: str, rule: str) -> str:
    return f"{program} -A INPUT {rule} -j ACCEPT\n"


@pytest.mark.parametrize("program,rule,saved", READ_ONLY, ids=[r[1] for r in READ_ONLY])
def test_read_back_in_save_form(program, rule, saved):
    family = "ip6" if program == "ip6tables" else "ip"
    out = convert(_script(program, rule), "fw.sh",
                  ConvertOptions(to="iptables-restore", family=family)).output
    assert f"-A INPUT {saved} -j ACCEPT" in out.splitlines()


@pytest.mark.parametrize("program,rule,saved", READ_ONLY, ids=[r[1] for r in READ_ONLY])
def test_nft_refuses_with_the_reason(program, rule, saved):
    words = rule.split()
    name = words[words.index("-m") + 1] if "-m" in words else words[words.index("-j") + 1]
    with pytest.raises(FwmigrateError) as info:
        convert(_script(program, rule), "fw.sh", ConvertOptions(to="nft"))
    text = "\n".join(f"{d.message} {d.hint or ''}" for d in info.value.diagnostics)
    assert "no exact nft equivalent" in text
    assert mappings.load("extensions")["not_translated"][name] in text


@pytest.mark.parametrize("program,rule,message", REFUSED, ids=[r[1] for r in REFUSED])
def test_refused_as_iptables_refuses(program, rule, message):
    with pytest.raises(FwmigrateError) as info:
        convert(_script(program, rule), "fw.sh", ConvertOptions(to="iptables-restore"))
    assert any(message in d.message for d in info.value.diagnostics), info.value.diagnostics
