"""The Project facade's parts: what they share is declared once, on ProjectBase, and each
declared member is implemented by exactly the part the declaration names."""

from __future__ import annotations

import inspect

import pytest

from pypersonalize.base import ProjectBase
from pypersonalize.project import Project

DECLARED = {name: fn.provided_by for name, fn in vars(ProjectBase).items()
            if callable(fn) and hasattr(fn, "provided_by")}
PARTS = [cls for cls in Project.__mro__ if cls not in (Project, ProjectBase, object)]


def _parameters(fn) -> list[tuple]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


def test_the_base_comes_after_every_part():
    # Otherwise a declaration would hide the part's implementation of it.
    assert Project.__mro__[-2:] == (ProjectBase, object)


@pytest.mark.parametrize("name", sorted(DECLARED))
def test_a_declared_member_is_implemented_once_by_its_part(name):
    owner = next(cls for cls in Project.__mro__ if name in vars(cls))
    assert owner.__name__ == DECLARED[name], f"{name} resolves to {owner.__name__}"
    implementing = [cls.__name__ for cls in (Project, *PARTS) if name in vars(cls)]
    assert implementing == [DECLARED[name]]
    assert _parameters(getattr(Project, name)) == _parameters(getattr(ProjectBase, name)), \
        f"the declaration of {name} in base.py no longer matches {DECLARED[name]}'s"


def test_parts_do_not_implement_the_same_member_twice():
    seen: dict[str, str] = {}
    for cls in (ProjectBase, Project, *PARTS):
        for name, value in vars(cls).items():
            if name.startswith("__") or name in DECLARED and cls is ProjectBase \
                    or not (callable(value) or isinstance(value, property)):
                continue
            assert name not in seen, f"{name} is implemented by both {seen[name]} and {cls.__name__}"
            seen[name] = cls.__name__
