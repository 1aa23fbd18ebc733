"""The simulator's account storage: a :class:`~freshtoken.storage.MemoryStorage` that keeps each saved state as
an object (a private copy) instead of its JSON.

The refresher sees the same contract — ``load`` returns a state of its own that it may change freely, ``save``
replaces the stored one (a compare-and-swap on the generation, as ``MemoryStorage`` does), one alarm — but the
JSON encode and decode of every load and save, which the simulator does not measure, is not paid per event.
Saving takes a copy and loading hands out a copy, so a state changed after ``save`` (or one loaded and changed but
never saved) leaves the stored one as it was, as a serialised store would. :attr:`raw` serialises on demand.
``Simulation(..., serialise_state=True)`` uses ``MemoryStorage`` instead (the same answers; a test compares).
"""

from __future__ import annotations

import copy
from typing import Any

from ..codec import SecretCodec
from ..state import AccountState
from ..storage import MemoryStorage

_new = object.__new__
_setattr = object.__setattr__


def _copy(state: AccountState) -> AccountState:
    """A state that shares nothing mutable with ``state`` (the dict fields copied; secrets are immutable).

    What ``state.model_copy()`` does (pydantic's ``__copy__``: the field dict, the set fields, the private
    attributes copied one level), written out for this model: it is done at every load and save."""
    out: AccountState = _new(type(state))
    fields = state.__dict__.copy()
    fields["account_data"] = dict(fields["account_data"])
    if fields["extras"]:
        fields["extras"] = copy.deepcopy(fields["extras"])
    _setattr(out, "__dict__", fields)
    _setattr(out, "__pydantic_extra__", None)  # extra="forbid": there is none
    _setattr(out, "__pydantic_fields_set__", state.__pydantic_fields_set__.copy())
    private = state.__pydantic_private__
    _setattr(out, "__pydantic_private__", None if private is None else private.copy())
    return out


class _Held:
    """The state of one account, shared by the handles on it (:meth:`SimStorage.view`)."""

    __slots__ = ("state",)

    def __init__(self) -> None:
        self.state: AccountState | None = None


class SimStorage(MemoryStorage):
    """A ``MemoryStorage`` holding the state as an object (see the module docstring)."""

    def __init__(self, codec: SecretCodec | None = None, *, _cell: Any = None, _held: _Held | None = None) -> None:
        super().__init__(codec, _cell=_cell)
        self._held = _held or _Held()

    def view(self) -> SimStorage:
        return SimStorage(self._codec, _cell=self._cell, _held=self._held)

    def _get(self) -> AccountState | None:
        state = self._held.state
        return None if state is None else _copy(state)

    def _put(self, state: AccountState | None) -> None:
        self._held.state = None if state is None else _copy(state)

    @property
    def raw(self) -> str | None:
        """The state as a store would hold it (serialised now, with this storage's codec)."""
        state = self._held.state
        return None if state is None else _copy(state).dump(self._codec)
