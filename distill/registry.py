"""A name -> constructor table; unknown names fail with the list of known ones."""
from typing import Callable, Dict, Generic, Iterable, TypeVar

from distill.errors import unknown_name

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str):
        self.kind = kind
        self._entries: Dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def add(obj: T) -> T:
            if name in self._entries:
                raise KeyError(f"{self.kind} {name!r} registered twice")
            self._entries[name] = obj
            return obj
        return add

    def get(self, name: str, field: str = "") -> T:
        if name not in self._entries:
            raise unknown_name(field or self.kind, name, self._entries)
        return self._entries[name]

    def names(self) -> Iterable[str]:
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        return name in self._entries
