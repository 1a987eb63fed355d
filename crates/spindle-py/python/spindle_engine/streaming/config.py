"""Stream settings: the seed's dataclasses, with its names and defaults."""

from __future__ import annotations

from dataclasses import dataclass, field

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


@dataclass
class StreamConfig:
    """Configuration for a streaming run (the seed's fields and defaults)."""

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
    # Change streams (README "Change streams"): the table as Debezium change events,
    # through its lifecycle (``cdc_lifecycle``: the text form, e.g.
    # "status:shipped=processing/24/6"; None: the table's built-in one, if any).
    cdc: bool = False
    cdc_lifecycle: str | None = None
    cdc_delete_fraction: float = 0.0
    cdc_tombstones: bool = False

    def get_rate_multiplier(self, elapsed: float, wall_hour: int = 0, wall_dow: int = 0) -> float:
        """The composite rate multiplier at a moment (bursts by time and the pattern)."""
        mult = 1.0
        for window in self.burst_windows:
            if window.is_active(elapsed):
                mult *= window.multiplier
        if self.time_pattern:
            mult *= self.time_pattern.get_multiplier(wall_hour, wall_dow)
        return max(mult, 0.001)

    def _native(self) -> dict:
        """The settings as the engine takes them."""
        pattern = self.time_pattern
        return {
            "events_per_second": float(self.events_per_second),
            "duration_seconds": None if self.duration_seconds is None else float(self.duration_seconds),
            "max_events": self.max_events,
            "out_of_order_fraction": float(self.out_of_order_fraction),
            "out_of_order_max_delay_slots": self.out_of_order_max_delay_slots,
            "burst_windows": [
                {
                    "start_offset_seconds": w.start_offset_seconds,
                    "duration_seconds": w.duration_seconds,
                    "start_event": w.start_event,
                    "end_event": w.end_event,
                    "multiplier": float(w.multiplier),
                }
                for w in self.burst_windows
            ],
            "time_pattern": None
            if pattern is None
            else (dict(pattern.hour_multipliers), dict(pattern.dow_multipliers)),
            "label_anomalies": bool(self.label_anomalies),
            "batch_size": self.batch_size,
            "realtime": bool(self.realtime),
            "max_lateness_seconds": None
            if self.max_lateness_seconds is None
            else float(self.max_lateness_seconds),
            "lateness_distribution": str(self.lateness_distribution),
            "duplicate_fraction": float(self.duplicate_fraction),
            "duplicate_max_delay_slots": self.duplicate_max_delay_slots,
            "drop_fraction": float(self.drop_fraction),
            "watermark_every": None if self.watermark_every is None else str(self.watermark_every),
            "rate_shapes": [str(s) for s in self.rate_shapes],
            "cdc": bool(self.cdc),
            "cdc_lifecycle": None if self.cdc_lifecycle is None else str(self.cdc_lifecycle),
            "cdc_delete_fraction": float(self.cdc_delete_fraction),
            "cdc_tombstones": bool(self.cdc_tombstones),
        }
