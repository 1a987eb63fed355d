"""Labelled anomalies: the seed's classes, injected by the engine's column kernels."""

from __future__ import annotations

from abc import ABC, abstractmethod


class Anomaly(ABC):
    """Base class of anomaly definitions."""

    @property
    @abstractmethod
    def anomaly_type(self) -> str:
        """Short label used in ``_spindle_anomaly_type``."""

    @property
    @abstractmethod
    def fraction(self) -> float:
        """Fraction of eligible rows (or groups) to mark as anomalous."""

    def inject(self, df, rng):
        """Injects the anomaly into a pandas DataFrame and returns it (a subclass
        written in Python implements this, as in the seed: set the values, mark the rows
        in ``_spindle_is_anomaly`` and name them in ``_spindle_anomaly_type``). The
        built-in kinds run in the engine instead."""
        raise NotImplementedError(f"{type(self).__name__} must implement inject(df, rng)")

    #: Whether the engine injects this anomaly (the built-in kinds) rather than Python.
    _injected_by_engine = False


class _EngineAnomaly(Anomaly):
    """A kind the engine injects: its label is ``KIND:name``."""

    _injected_by_engine = True
    _kind = ""
    name: str
    _fraction: float

    @property
    def anomaly_type(self) -> str:
        return f"{self._kind}:{self.name}"

    @property
    def fraction(self) -> float:
        return self._fraction

    def _settings(self) -> dict:
        """The kind's own settings, as the engine takes them."""
        raise NotImplementedError

    def _native(self) -> dict:
        return {"kind": self._kind, "name": self.name, "fraction": float(self._fraction), **self._settings()}


class PointAnomaly(_EngineAnomaly):
    """One row's value far outside the normal range: ``column`` set to its mean
    times a multiplier drawn from ``multiplier_range``."""

    _kind = "point"

    def __init__(
        self,
        name: str,
        column: str,
        multiplier_range: tuple[float, float] = (10.0, 100.0),
        fraction: float = 0.01,
    ) -> None:
        self.name = name
        self.column = column
        self.multiplier_range = multiplier_range
        self._fraction = fraction

    def _settings(self) -> dict:
        lo, hi = self.multiplier_range
        return {"column": self.column, "multiplier_range": (float(lo), float(hi))}

    def __repr__(self) -> str:
        return (
            f"PointAnomaly(name={self.name!r}, column={self.column!r}, "
            f"multiplier_range={self.multiplier_range!r})"
        )


class ContextualAnomaly(_EngineAnomaly):
    """A normal value in the wrong context: rows whose ``condition_column`` holds one
    of ``normal_values`` get one of ``anomalous_values`` in ``column`` (None writes a
    null)."""

    _kind = "contextual"

    def __init__(
        self,
        name: str,
        column: str,
        condition_column: str,
        normal_values: list[object],
        anomalous_values: list[object],
        fraction: float = 0.01,
    ) -> None:
        self.name = name
        self.column = column
        self.condition_column = condition_column
        self.normal_values = list(normal_values)
        self.anomalous_values = list(anomalous_values)
        self._fraction = fraction

    def _settings(self) -> dict:
        return {
            "column": self.column,
            "condition_column": self.condition_column,
            "normal_values": self.normal_values,
            "anomalous_values": self.anomalous_values,
        }

    def __repr__(self) -> str:
        return (
            f"ContextualAnomaly(name={self.name!r}, column={self.column!r}, "
            f"condition_column={self.condition_column!r}, normal_values={self.normal_values!r}, "
            f"anomalous_values={self.anomalous_values!r})"
        )


class CollectiveAnomaly(_EngineAnomaly):
    """Rows abnormal together: every row of a chosen group (by ``group_column``) moved
    into a window of ``window_seconds`` on ``timestamp_column``."""

    _kind = "collective"

    def __init__(
        self,
        name: str,
        group_column: str,
        timestamp_column: str,
        window_seconds: float = 600.0,
        fraction: float = 0.005,
    ) -> None:
        self.name = name
        self.group_column = group_column
        self.timestamp_column = timestamp_column
        self.window_seconds = window_seconds
        self._fraction = fraction

    def _settings(self) -> dict:
        return {
            "group_column": self.group_column,
            "timestamp_column": self.timestamp_column,
            "window_seconds": float(self.window_seconds),
        }

    def __repr__(self) -> str:
        return (
            f"CollectiveAnomaly(name={self.name!r}, group_column={self.group_column!r}, "
            f"timestamp_column={self.timestamp_column!r}, window_seconds={self.window_seconds!r})"
        )


class AnomalyRegistry:
    """The anomalies a stream injects."""

    def __init__(self, anomalies: list[Anomaly] | None = None) -> None:
        self._anomalies: list[Anomaly] = list(anomalies or [])

    def add(self, anomaly: Anomaly) -> "AnomalyRegistry":
        """Registers an anomaly and returns ``self`` for chaining."""
        self._anomalies.append(anomaly)
        return self

    def __len__(self) -> int:
        return len(self._anomalies)

    def __iter__(self):
        return iter(self._anomalies)

    def __repr__(self) -> str:
        return f"AnomalyRegistry({[a.anomaly_type for a in self._anomalies]})"

    def _native(self) -> list[dict]:
        return [a._native() for a in self._anomalies]
