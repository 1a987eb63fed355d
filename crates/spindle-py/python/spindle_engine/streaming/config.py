"""Stream settings: the seed's dataclasses, with its names and defaults."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields

from spindle_engine import _native


@dataclass
class BurstWindow:
    """A window where the event rate is multiplied by ``multiplier``.

    Either by time, ``start_offset_seconds`` and ``duration_seconds`` (seconds from the
    stream's start, as the seed's API reference has it), or by event index,
    ``start_event`` to ``end_event`` (as the seed's tutorial writes it).

    Example::

        # 10x rate burst starting at t=30s, lasting 60 seconds
        BurstWindow(start_offset_seconds=30, duration_seconds=60, multiplier=10.0)
        # 5x rate for events 30 to 60
        BurstWindow(start_event=30, end_event=60, multiplier=5.0)
    """

    start_offset_seconds: float | None = None
    duration_seconds: float | None = None
    multiplier: float = 1.0
    start_event: int | None = None
    end_event: int | None = None

    def __post_init__(self) -> None:
        by_time = self.start_offset_seconds is not None or self.duration_seconds is not None
        by_events = self.start_event is not None or self.end_event is not None
        if by_time == by_events:
            raise ValueError(
                "BurstWindow takes start_offset_seconds and duration_seconds (a time "
                "window) or start_event and end_event (an event window)"
            )

    def is_active(self, elapsed: float) -> bool:
        """Whether a time window is active ``elapsed`` seconds after the start."""
        if self.start_offset_seconds is None or self.duration_seconds is None:
            return False
        end = self.start_offset_seconds + self.duration_seconds
        return self.start_offset_seconds <= elapsed < end


@dataclass
class TimePattern:
    """Time-of-day (0-23) and day-of-week (0=Monday) rate multipliers."""

    hour_multipliers: dict[int, float] = field(default_factory=dict)
    dow_multipliers: dict[int, float] = field(default_factory=dict)

    def get_multiplier(self, hour: int, dow: int) -> float:
        """The composite multiplier at an hour and day of week."""
        return self.hour_multipliers.get(hour, 1.0) * self.dow_multipliers.get(dow, 1.0)

    @classmethod
    def business_hours(cls) -> "TimePattern":
        """Higher traffic 8am-6pm, very low on weekends (the engine's preset)."""
        return cls(*_native.time_pattern("business_hours"))

    @classmethod
    def retail_peak(cls) -> "TimePattern":
        """E-commerce: evening peak, elevated weekends (the engine's preset)."""
        return cls(*_native.time_pattern("retail_peak"))


# The one Python name that differs from the engine's key: the seed's spelling.
_KEY_OF_FIELD = {"watermark_every": "watermark"}


def _unix_seconds(instant):
    """An instant as Unix seconds: a number as it is, a datetime (naive is UTC)."""
    if instant is None or isinstance(instant, (int, float)):
        return instant
    import datetime as dt

    if isinstance(instant, dt.datetime):
        if instant.tzinfo is None:
            instant = instant.replace(tzinfo=dt.timezone.utc)
        return instant.timestamp()
    if isinstance(instant, str):
        return instant
    raise TypeError(f"expected Unix seconds, a datetime or an ISO text, not {type(instant).__name__}")


@dataclass
class StreamConfig:
    """Configuration for a streaming run: the seed's fields and defaults, and every other
    setting the engine declares (``_native.stream_settings()`` lists them with their
    docs; the engine checks the values, a bad one raising ValueError naming it)."""

    events_per_second: float = 10.0
    duration_seconds: float | None = None
    max_events: int | None = None
    out_of_order_fraction: float = 0.0
    out_of_order_max_delay_slots: int = 10
    burst_windows: list[BurstWindow] = field(default_factory=list)
    time_pattern: TimePattern | None = None
    label_anomalies: bool = True
    batch_size: int = 100
    realtime: bool = False
    # Beyond the seed: delivery faults and rate shapes (README "Delivery faults").
    max_lateness_seconds: float | None = None
    lateness_distribution: str = "uniform"
    duplicate_fraction: float = 0.0
    duplicate_max_delay_slots: int = 10
    drop_fraction: float = 0.0
    watermark_every: int | str | None = None
    rate_shapes: list[str] = field(default_factory=list)
    # Realtime pacing: the time pattern's clock (a datetime, Unix seconds or ISO text),
    # the schedule's start (the same for every part of a run), the pattern clock's
    # speed, what the event-time column carries ("table" or "live"), and a per-second
    # record of planned and sent events.
    clock_start: object = None
    start_at: object = None
    speedup: float = 1.0
    event_time: str = "table"
    report_lateness: bool = False
    # A partitioned run: this producer sends part ``part`` of ``parts``.
    part: int = 0
    parts: int = 1
    # Change streams (README "Change streams"): the table as Debezium change events,
    # through its lifecycle (``cdc_lifecycle``: the text form, e.g.
    # "status:shipped=processing/24/6"; None: the table's built-in one, if any).
    cdc: bool = False
    cdc_lifecycle: str | None = None
    cdc_delete_fraction: float = 0.0
    cdc_delete_after_hours: float = 168.0
    cdc_tombstones: bool = False

    def get_rate_multiplier(self, elapsed: float, wall_hour: int = 0, wall_dow: int = 0,
                            event_index: int | None = None) -> float:
        """The composite rate multiplier at a moment: time bursts, rate shapes and the
        time pattern, and with ``event_index`` the event-index bursts covering it (the
        engine's pacer computes it)."""
        return _native.rate_multiplier(self._native(), float(elapsed), int(wall_hour), int(wall_dow), event_index)

    def _settings(self) -> dict:
        """The settings keyed as the engine declares them."""
        values = {_KEY_OF_FIELD.get(f.name, f.name): getattr(self, f.name) for f in fields(self)}
        values["burst_windows"] = [_burst(w) for w in self.burst_windows]
        pattern = self.time_pattern
        values["time_pattern"] = None if pattern is None else {
            "hour_multipliers": {str(h): float(m) for h, m in pattern.hour_multipliers.items()},
            "dow_multipliers": {str(d): float(m) for d, m in pattern.dow_multipliers.items()},
        }
        values["rate_shapes"] = [str(s) for s in self.rate_shapes]
        values["clock_start"] = _unix_seconds(self.clock_start)
        values["start_at"] = _unix_seconds(self.start_at)
        return values

    def _native(self) -> str:
        """The settings as the engine takes them: a JSON object of its keys."""
        return json.dumps(self._settings())


def _burst(window: BurstWindow) -> dict:
    if window.start_event is not None or window.end_event is not None:
        return {"start_event": window.start_event, "end_event": window.end_event, "multiplier": float(window.multiplier)}
    return {
        "start_offset_seconds": window.start_offset_seconds,
        "duration_seconds": window.duration_seconds,
        "multiplier": float(window.multiplier),
    }
