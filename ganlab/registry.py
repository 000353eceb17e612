"""One way to add a part: a decorator registry per kind of part (networks, objectives, penalties, datasets,
metrics).

A part registers itself where it is defined::

    @OBJECTIVES.register("hinge")
    class Hinge(Objective): ...

and a registry finds its parts by importing every module of its own package the first time it is asked, so a
new part is one new module in that folder (and one YAML file in ``configs/``), with nothing else to edit. A part
may also declare the config keys it owns as a dataclass (``params=``): its section of the config then holds
exactly those keys when it is the chosen part (see :mod:`ganlab.config.parts`). A part that is a function
(a data set's loader) states what others must know of it before it is called as keyword arguments
(``kind="points"``), read back with :meth:`Registry.fact`; a class states them as class attributes.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from ganlab.errors import GanlabError

T = TypeVar("T")


class Registry(Generic[T]):
    """Parts of one kind, by name. ``key`` is the config key that picks one (e.g. ``objective.name``)."""

    def __init__(self, key: str, package: str, noun: str, choose: str | None = None):
        self.key, self.package, self.noun = key, package, noun  # noun: what one part is called, for messages
        self.choose = choose or f"{key}=<name>"  # how a user picks one, for error messages
        self._parts: dict[str, T] = {}
        self._params: dict[str, type] = {}
        self._facts: dict[str, dict[str, Any]] = {}
        self._discovered = False

    def register(self, name: str, params: type | None = None, **facts: Any) -> Callable[[T], T]:
        """Decorator: register the decorated class or function as ``name``; ``params`` is a dataclass of the
        config keys this part owns (in the section of ``key``); ``facts`` what it states about itself."""

        def add(part: T) -> T:
            if name in self._parts and self._parts[name] is not part:
                raise ValueError(f"two parts registered as {self.key}={name}")
            self._parts[name] = part
            self._facts[name] = facts
            if params is not None:
                if not dataclasses.is_dataclass(params):
                    raise TypeError(f"params of {self.key}={name} must be a dataclass")
                self._params[name] = params
            return part

        return add

    def discover(self) -> Registry[T]:
        """Import every module of the registry's package once, so that each registers its parts."""
        if not self._discovered:
            self._discovered = True
            package = importlib.import_module(self.package)
            for module in pkgutil.iter_modules(package.__path__):
                importlib.import_module(f"{self.package}.{module.name}")
        return self

    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self.discover()._parts))

    def __contains__(self, name: object) -> bool:
        return name in self.discover()._parts

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __getitem__(self, name: str) -> T:
        parts = self.discover()._parts
        if name not in parts:
            raise GanlabError(f"unknown {self.key} '{name}'. Choose {self.choose} with one of: {', '.join(self.names())}.")
        return parts[name]

    def items(self) -> list[tuple[str, T]]:
        parts = self.discover()._parts
        return [(n, parts[n]) for n in self.names()]

    def build(self, section: Any) -> Any:
        """The part chosen by a config section (``section[<field of key>]``), called with the keys it owns that
        are set (a part's constructor takes its params as keyword arguments)."""
        name = section[self.key.split(".", 1)[1]]
        part: Any = self[name]
        params = self._params.get(name)
        owned = [f.name for f in dataclasses.fields(params)] if params else []
        return part(**{k: section[k] for k in owned if section.get(k) is not None})

    def fact(self, name: str, fact: str, default: Any = None) -> Any:
        """What the part ``name`` stated as ``fact`` when it registered (``default`` if it stated nothing)."""
        self[name]  # an unknown name is refused, naming the choices
        return self._facts[name].get(fact, default)

    def params(self) -> dict[str, type]:
        """The dataclasses of config keys the parts own, by part name."""
        return dict(self.discover()._params)
