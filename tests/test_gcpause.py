"""The collector pause around loading, costing and partitioning (issue 15)."""

from __future__ import annotations

import gc

import pytest

from estimator.gcpause import gc_paused, with_gc_paused


def test_paused_inside_and_restored_after() -> None:
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():  # nested: still off, and the outer block turns it back on
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_restored_after_an_error_and_left_off_when_the_caller_turned_it_off() -> None:
    @with_gc_paused
    def fail(x: int) -> int:
        assert not gc.isenabled()
        raise ValueError(x)

    with pytest.raises(ValueError):
        fail(1)
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # the caller's choice stands
    finally:
        gc.enable()
