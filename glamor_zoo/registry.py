"""Name → factory registries for pluggable parts (encoders, attention, fusion, detectors).

Every kind of part has one :class:`Registry`. Parts are looked up by name or passed as a
class/callable; an unknown name raises :class:`UnknownComponentError` listing the valid names.

Third-party packages add parts through the Python entry-point group ``glamor_zoo.<kind>``
(e.g. ``glamor_zoo.attention``). In a plugin's ``pyproject.toml``::

    [project.entry-points."glamor_zoo.attention"]
    my_attention = "my_package.attention:MyAttention"

After ``pip install my-package``, ``create_model("glamor_original", attention="my_attention")``
works. Entry points are read lazily, the first time a registry is queried, so plugins cost
nothing at ``import glamor_zoo``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

__all__ = [
    "ENTRY_POINT_PREFIX",
    "Registry",
    "UnknownComponentError",
    "add_zoo_architecture",
    "get_registry",
    "is_zoo_architecture",
    "new_registry",
]

_logger = logging.getLogger(__name__)

ENTRY_POINT_PREFIX = "glamor_zoo."

T = TypeVar("T", bound=Callable[..., Any])

# The zoo's model architectures (filled by ``glamor_zoo.models.register_model``): timm sees
# them as models too, and the parts that take "any timm model name" must tell them apart.
_ZOO_ARCHITECTURES: set[str] = set()


def add_zoo_architecture(name: str) -> None:
    """Record ``name`` as one of the zoo's model architectures."""
    _ZOO_ARCHITECTURES.add(name)


def is_zoo_architecture(name: str) -> bool:
    """Whether ``name`` (``arch`` or ``arch.tag``) is one of the zoo's model architectures."""
    return name.split(".", 1)[0] in _ZOO_ARCHITECTURES


class UnknownComponentError(KeyError):
    """A part was requested by a name that no registry entry or plugin provides."""

    def __init__(self, kind: str, name: str, valid: list[str]) -> None:
        self.kind, self.name, self.valid = kind, name, valid
        super().__init__(f"unknown {kind} {name!r}; valid {kind} names: {', '.join(valid)}")

    def __str__(self) -> str:
        return str(self.args[0])


class Registry(Generic[T]):
    """A registry of one kind of part.

    Args:
        kind: The part kind; also the suffix of the plugin entry-point group
            ``glamor_zoo.<kind>``.
        fallback: Optional resolver for names not registered explicitly (the encoder
            registry uses it to accept any timm model name). Returns ``None`` to decline.
        fallback_help: How the fallback's names are described in error messages.
    """

    def __init__(
        self,
        kind: str,
        fallback: Callable[[str], T | None] | None = None,
        fallback_help: str = "",
    ) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}
        self._fallback = fallback
        self._fallback_help = fallback_help
        self._plugins: dict[str, T] | None = None

    @property
    def entry_point_group(self) -> str:
        return ENTRY_POINT_PREFIX + self.kind

    def register(self, name: str, *, overwrite: bool = False) -> Callable[[T], T]:
        """Decorator registering ``obj`` under ``name``."""

        def decorator(obj: T) -> T:
            self.add(name, obj, overwrite=overwrite)
            return obj

        return decorator

    def add(self, name: str, obj: T, *, overwrite: bool = False) -> None:
        """Register ``obj`` under ``name``; refuse to shadow an existing entry silently."""
        if not overwrite and name in self._entries and self._entries[name] is not obj:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = obj

    def _load_plugins(self) -> None:
        if self._plugins is not None:
            return
        self._plugins = {}
        for ep in entry_points(group=self.entry_point_group):
            if ep.name in self._entries:
                _logger.warning(
                    "plugin %s=%s ignored: %s %r is built in", ep.name, ep.value, self.kind, ep.name
                )
                continue
            try:
                self._plugins[ep.name] = ep.load()
            except Exception as exc:  # a broken plugin must not break the zoo
                _logger.warning(
                    "could not load %s plugin %r (%s): %s", self.kind, ep.name, ep.value, exc
                )

    def refresh_plugins(self) -> None:
        """Forget loaded plugins; the entry-point group is read again on the next lookup."""
        self._plugins = None

    def _all(self) -> dict[str, T]:
        self._load_plugins()
        return {**(self._plugins or {}), **self._entries}

    def names(self) -> list[str]:
        """Registered names, built-ins and plugins, sorted."""
        return sorted(self._all())

    def __contains__(self, name: object) -> bool:
        return name in self._all()

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def get(self, name_or_obj: str | T) -> T:
        """Resolve a name to its factory; a class or callable passes through unchanged."""
        if not isinstance(name_or_obj, str):
            if callable(name_or_obj):
                return name_or_obj
            raise TypeError(
                f"{self.kind} must be a name or a class, got {type(name_or_obj).__name__}"
            )
        entries = self._all()
        if name_or_obj in entries:
            return entries[name_or_obj]
        if self._fallback is not None:
            resolved = self._fallback(name_or_obj)
            if resolved is not None:
                return resolved
        valid = self.names()
        if self._fallback_help:
            valid = [*valid, self._fallback_help]
        raise UnknownComponentError(self.kind, name_or_obj, valid)

    def create(self, name_or_obj: str | T, *args: Any, **kwargs: Any) -> Any:
        """Resolve and call the factory."""
        return self.get(name_or_obj)(*args, **kwargs)


_REGISTRIES: dict[str, Registry[Any]] = {}


def get_registry(kind: str) -> Registry[Any]:
    """The registry of ``kind`` (``encoder``, ``attention``, ``fusion``, ``detector``…)."""
    try:
        return _REGISTRIES[kind]
    except KeyError:
        raise UnknownComponentError("component kind", kind, sorted(_REGISTRIES)) from None


def new_registry(kind: str, **kwargs: Any) -> Registry[Any]:
    """Create and index the registry of a new part kind (one per kind)."""
    if kind in _REGISTRIES:
        raise ValueError(f"a registry for {kind!r} exists already")
    registry: Registry[Any] = Registry(kind, **kwargs)
    _REGISTRIES[kind] = registry
    return registry
