"""The trusted verifier's snapshot and restore (tito/sandbox/verifier.py), on a module made for the test:
every kind of patch is found and undone, and what is not a patch is not reported."""

from __future__ import annotations

import types

import pytest

from tito.sandbox.verifier import restore, snapshot


def helper(x, scale=2):
    return x * scale


@pytest.fixture
def module() -> types.ModuleType:
    made = types.ModuleType("protected_for_test")
    made.constant = 3.0
    made.helper = types.FunctionType(helper.__code__, {}, "helper", helper.__defaults__)
    made.other = lambda: "other"
    return made


def test_an_untouched_module_reports_nothing(module) -> None:
    state = snapshot({"m": module})
    assert restore(state) == []
    assert restore(state) == []


def test_a_replaced_attribute_is_put_back(module) -> None:
    state = snapshot({"m": module})
    original = module.helper
    module.helper = lambda x, scale=2: "cheat"
    assert restore(state) == ["m.helper"]
    assert module.helper is original
    assert restore(state) == []


def test_an_added_attribute_is_removed_and_a_deleted_one_comes_back(module) -> None:
    state = snapshot({"m": module})
    module.extra = "new"
    del module.constant
    assert sorted(restore(state)) == ["m.constant", "m.extra"]
    assert module.constant == 3.0 and not hasattr(module, "extra")


def test_deleting_and_re_adding_the_same_value_is_no_patch(module) -> None:
    state = snapshot({"m": module})
    value = module.constant
    del module.constant
    module.constant = value  # the namespace's order changed, not its contents
    assert restore(state) == []


def test_a_patched_function_body_or_default_is_put_back(module) -> None:
    state = snapshot({"m": module})
    code, defaults = module.helper.__code__, module.helper.__defaults__
    module.helper.__code__ = (lambda x, scale=2: "cheat").__code__
    assert restore(state) == ["m.helper (its code)"]
    assert module.helper.__code__ is code
    module.helper.__defaults__ = (100,)
    assert restore(state) == ["m.helper (its code)"]
    assert module.helper.__defaults__ is defaults and module.helper(1) == 2


def test_a_submodule_loaded_later_is_not_a_patch(module) -> None:
    state = snapshot({"m": module})
    module.sub = types.ModuleType("protected_for_test.sub")
    assert restore(state) == []
    assert module.sub.__name__ == "protected_for_test.sub"
    module.sub = types.ModuleType("another")  # but replacing it afterwards is one
    assert restore(state) == ["m.sub"]
