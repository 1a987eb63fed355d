"""spindle-engine: synthetic relational data as Arrow tables, streamed as events.

The seed package's API (``sqllocks_spindle``) on the Spindle engine: the same classes,
names and defaults; moving over is the import line. Generated tables are pyarrow
Tables (``.to_pandas()`` a call away).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from spindle_engine import _native
from spindle_engine import streaming
from spindle_engine.streaming import *  # noqa: F403 - the seed's top package re-exports them

# The engine's version (the wheel's): read from the extension, not from the installed
# metadata, whose reader (importlib.metadata) would double the import time.
__version__ = _native.__version__


class Domain:
    """A data model: a built-in domain (``RetailDomain()``) or a ``.spindle.json``
    schema (``Domain("my_model.spindle.json")``)."""

    #: The built-in name; subclasses set it.
    name: str = ""

    def __init__(self, schema: str | os.PathLike | None = None) -> None:
        if schema is not None:
            self.name = os.fspath(schema)
        if not self.name:
            raise ValueError("Domain needs a built-in domain's name or a .spindle.json path")

    @property
    def table_names(self) -> list[str]:
        """The tables in generation order."""
        return [t for t, _ in _native.row_counts(self.name, "fabric_demo")]

    def row_counts(self, scale: str = "small") -> dict[str, int]:
        """Rows per table at ``scale``."""
        return dict(_native.row_counts(self.name, scale))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()" if type(self) is not Domain else f"Domain({self.name!r})"


def _class_name(domain: str) -> str:
    special = {"hr": "Hr", "iot": "IoT"}
    return "".join(special.get(p, p.capitalize()) for p in domain.split("_")) + "Domain"


#: A class per built-in domain: RetailDomain, IoTDomain, FinancialDomain, ...
_DOMAINS: dict[str, type[Domain]] = {}
for _name in _native.domain_names():
    _DOMAINS[_name] = type(_class_name(_name), (Domain,), {
        "name": _name,
        "__doc__": f"The built-in {_name} domain (``spindle describe {_name}`` shows its tables and columns).",
    })
    globals()[_class_name(_name)] = _DOMAINS[_name]
HRDomain = _DOMAINS["hr"]


def _domain_name(domain) -> str:
    """A domain object, built-in name or schema path, as the engine names it."""
    if isinstance(domain, Domain):
        return domain.name
    if isinstance(domain, (str, os.PathLike)):
        return os.fspath(domain)
    raise TypeError(f"domain: expected a Domain (e.g. RetailDomain()) or a name, not {type(domain).__name__}")


@dataclass
class GenerationResult:
    """Generated tables (pyarrow Tables, in generation order) and their counts."""

    tables: dict
    generation_order: list[str]
    elapsed_seconds: float
    row_counts: dict[str, int] = field(default_factory=dict)

    def __getitem__(self, table_name: str):
        return self.tables[table_name]

    def __repr__(self) -> str:
        total = sum(self.row_counts.values())
        return (
            f"GenerationResult({len(self.tables)} tables, {total:,} rows, "
            f"{self.elapsed_seconds:.2f}s)"
        )


class Spindle:
    """Generates a domain's tables in memory."""

    def generate(
        self,
        domain=None,
        schema: str | os.PathLike | None = None,
        scale: str | None = None,
        seed: int | None = None,
        tables: list[str] | None = None,
    ) -> GenerationResult:
        """Every table (or ``tables``) of ``domain`` (or of the ``.spindle.json``
        ``schema``) at ``scale`` (default small) with ``seed`` (default 42)."""
        if (domain is None) == (schema is None):
            raise ValueError("Provide either 'domain' or 'schema'.")
        name = _domain_name(domain if domain is not None else schema)
        import pyarrow as pa

        batches, elapsed = _native.generate(name, scale or "small", 42 if seed is None else seed, list(tables or []))
        out = {t: pa.Table.from_batches([b]) for t, b in batches}
        return GenerationResult(
            tables=out,
            generation_order=list(out),
            elapsed_seconds=elapsed,
            row_counts={t: out[t].num_rows for t in out},
        )

    def generate_stream(self, domain=None, schema=None, scale: str | None = None, seed: int | None = None):
        """``(table_name, pyarrow Table)`` pairs in generation order, for
        :meth:`StreamingMultiWriter.stream`."""
        yield from self.generate(domain=domain, schema=schema, scale=scale, seed=seed).tables.items()


__all__ = [
    "Domain",
    "GenerationResult",
    "HRDomain",
    "Spindle",
    *streaming.__all__,
    *(cls.__name__ for cls in _DOMAINS.values()),
]
