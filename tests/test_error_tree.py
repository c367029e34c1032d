"""One error tree per room, every room's base under `primitives.errors.PbxbridgeError`.

Every exception class defined anywhere in our packages is walked (modules imported, not
grepped): a room's classes derive from that room's base, which derives from the root, and
the room's `errors.py` draws each of its classes in its docstring. A class that stands
outside on purpose is listed in OUTSIDE with the reason.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

from primitives.errors import PbxbridgeError

ROOT = Path(__file__).resolve().parents[1]

ROOMS: dict[str, str] = {
    "agi": "AgiError",
    "ami_listener": "AmiError",
    "askozia_api": "AskoziaApiError",
    "billing_client": "BillingError",
    "call_log": "CallLogError",
    "callfile_spooler": "CallfileSpoolerError",
    "jobs": "JobError",
    "lines": "LineError",
    "missed_calls": "MissedCallsError",
    "notify": "NotifyError",
    "sms": "SmsError",
    "storage": "StorageError",
    "telepony": "TeleponyError",
    "web": "WebError",
    "webhooks": "WebhookError",
}
"""Room → the base of its tree, defined in `<room>/errors.py`."""

NOT_ROOMS: dict[str, str] = {
    "primitives": "the ground floor: it holds the root itself, and draws every room's base",
    "pbxbridge": "the root that wires the rooms: its few errors derive from the root directly",
}

OUTSIDE: dict[str, str] = {
    "billing_client.ubilling.replies._Shape": (
        "control flow: a field of the wrong shape, caught in the same module and raised "
        "again as UnexpectedReply with the request and the body"
    ),
}
"""Exception classes that are not errors pbxbridge raises to anyone, and why."""


def _packages() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["packages"]["find"]["include"]
    return sorted(p.removesuffix("*") for p in patterns)


def _modules(package: str) -> list[ModuleType]:
    top = importlib.import_module(package)
    found = [top]
    for info in pkgutil.walk_packages(top.__path__, f"{package}."):
        if ".migrations" in info.name:  # Alembic scripts: run by Alembic, never imported
            continue
        found.append(importlib.import_module(info.name))
    return found


def _exceptions() -> dict[str, type[BaseException]]:
    classes: dict[str, type[BaseException]] = {}
    for package in _packages():
        for module in _modules(package):
            for name, value in vars(module).items():
                if (
                    inspect.isclass(value)
                    and issubclass(value, BaseException)
                    and value.__module__ == module.__name__
                ):
                    classes[f"{module.__name__}.{name}"] = value
    return classes


def test_every_package_is_a_room_with_a_tree_or_says_why_not() -> None:
    assert sorted([*ROOMS, *NOT_ROOMS]) == _packages()


@pytest.mark.parametrize("room", sorted(ROOMS))
def test_a_room_base_derives_from_the_root_and_its_tree_is_drawn(room: str) -> None:
    errors = importlib.import_module(f"{room}.errors")
    base = getattr(errors, ROOMS[room])
    assert base.__bases__ == (PbxbridgeError,)
    drawing = errors.__doc__ or ""
    assert "PbxbridgeError" in drawing
    defined = [
        name
        for name, value in vars(errors).items()
        if inspect.isclass(value)
        and issubclass(value, BaseException)
        and value.__module__ == errors.__name__
    ]
    assert base.__name__ in defined
    missing = [name for name in defined if f"── {name} " not in drawing]
    assert missing == [], f"{room}/errors.py does not draw {missing} in its docstring"


def test_the_root_draws_every_room_base() -> None:
    """primitives/errors.py, the root's home, is the map: each room's base right under
    PbxbridgeError, with the file that holds its tree."""
    drawing = importlib.import_module("primitives.errors").__doc__ or ""
    missing = [
        f"{base} ({room}/errors.py)"
        for room, base in ROOMS.items()
        if not re.search(rf"^    [├└]── {base} +{room}/errors\.py", drawing, re.MULTILINE)
    ]
    assert missing == []


def test_every_exception_class_is_in_its_room_tree() -> None:
    strays = []
    for qualified, cls in _exceptions().items():
        if qualified in OUTSIDE:
            continue
        room = qualified.partition(".")[0]
        base = (
            getattr(importlib.import_module(f"{room}.errors"), ROOMS[room])
            if room in ROOMS
            else PbxbridgeError
        )
        if not issubclass(cls, base):
            strays.append(f"{qualified} ({', '.join(b.__name__ for b in cls.__mro__[1:-2])})")
        elif room in ROOMS and cls.__module__ != f"{room}.errors":
            strays.append(f"{qualified}: defined outside {room}/errors.py")
    assert strays == []


def test_the_exceptions_listed_outside_the_tree_still_exist() -> None:
    assert set(OUTSIDE) <= set(_exceptions())
