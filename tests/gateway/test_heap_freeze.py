"""The start-up heap is frozen once the gateway is ready (see ``fixgw.gateway._lifecycle``)."""

from __future__ import annotations

import gc

from fixgw.gateway._lifecycle import freeze_start_up_heap


def test_heap_freeze_moves_live_objects_out_of_collections_and_collects_garbage_first():
    class Node:
        def __init__(self) -> None:
            self.me = self

    gc.unfreeze()
    Node()  # a cycle already unreachable: collected, not frozen
    keep = Node()
    try:
        freeze_start_up_heap()
        assert gc.get_freeze_count() > 0
        assert not any(type(o) is Node for o in gc.get_objects())  # the live one is frozen, out of reach
        assert keep.me is keep
    finally:
        gc.unfreeze()
    assert sum(type(o) is Node for o in gc.get_objects()) == 1  # only the live one came back
