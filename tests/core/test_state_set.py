"""``AccountState._set``, the many-fields assignment the transitions use: what pydantic's ``__setattr__`` does
(value stored, field marked set, no validation), and a name that is not a field refused."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from freshtoken.state import AccountState, Status
from freshtoken.tokens import TokenSet


def _state() -> AccountState:
    return AccountState.model_validate({"key": "t:generic:a", "client": "c", "refresh_token": SecretStr("rt-1")})


def test_set_stores_and_marks_fields_as_attribute_assignment_does() -> None:
    by_attr, by_set = _state(), _state()
    by_attr.failures = 3
    by_attr.status = Status.RETRYING
    by_set._set(failures=3, status=Status.RETRYING)
    assert by_set == by_attr and by_set.model_fields_set == by_attr.model_fields_set
    assert by_set.model_dump() == by_attr.model_dump()


def test_set_refuses_a_name_that_is_not_a_field_and_changes_nothing() -> None:
    s = _state()
    before = s.model_dump()
    with pytest.raises(AttributeError, match="generashun"):
        s._set(failures=9, generashun=1)
    assert s.model_dump() == before and "generashun" not in s.__dict__


def test_apply_tokens_leaves_a_state_that_validates_and_marks_what_it_changed() -> None:
    s = _state()
    answer = TokenSet(access_token=SecretStr("at-2"), issued_at=1000.0, expires_at=4600.0,
                      refresh_token=SecretStr("rt-2"), scope="a b")
    assert s.apply_tokens(answer, 1000.0, lead=600.0, margin=0.0)
    assert AccountState.model_validate(s.model_dump()) == s
    assert {"access_token", "refresh_token", "previous_refresh_token", "generation", "status",
            "next_refresh_at"} <= s.model_fields_set
    assert (s.status, s.generation, s.next_refresh_at, s.previous_refresh_token) == (
        Status.ACTIVE, 1, 4000.0, SecretStr("rt-1"))
