"""The IR's construction shortcut (ir.quick_init) keeps dataclass semantics."""

import copy
import dataclasses
import inspect
import pickle

import pytest

from fwmigrate.backends import nft_ast
from fwmigrate.ir import Address, Negatable, Rule, SourceLocation

QUICK = [SourceLocation, Address, Negatable, Rule, nft_ast.Symbol, nft_ast.Prefix,
         nft_ast.Compare, nft_ast.NftRule]


@pytest.mark.parametrize("cls", QUICK, ids=lambda c: c.__name__)
def test_quick_init_takes_the_fields_in_order_with_their_defaults(cls):
    params = list(inspect.signature(cls).parameters.values())
    fields = dataclasses.fields(cls)
    assert [p.name for p in params] == [f.name for f in fields]
    assert [p.default for p in params] == [
        inspect.Parameter.empty if f.default is dataclasses.MISSING else f.default
        for f in fields]


def test_quick_init_objects_stay_frozen_and_compare_by_value():
    a = Rule(loc=SourceLocation("f", 1))
    b = Rule(matches=(), loc=SourceLocation("g", 2, 5))
    assert a == b and hash(a) == hash(b)          # locations take no part in equality
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.loc = None
    assert dataclasses.replace(b, target=None).loc == SourceLocation("g", 2, 5)


@pytest.mark.parametrize("cls", QUICK, ids=lambda c: c.__name__)
def test_quick_init_objects_are_of_their_class_and_copy_and_pickle(cls):
    values = {f.name: f"v{k}" for k, f in enumerate(dataclasses.fields(cls))}
    obj = cls(**values)
    assert type(obj) is cls
    for twin in (copy.copy(obj), copy.deepcopy(obj), pickle.loads(pickle.dumps(obj))):
        assert type(twin) is cls
        assert dataclasses.asdict(twin) == values
