"""``StreamResult``: what a streaming run did."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class StreamResult:
    """Result of a streaming run."""

    table: str
    events_sent: int
    anomaly_count: int
    out_of_order_count: int
    elapsed_seconds: float
    stop_reason: str = "completed"
    duplicate_count: int = 0
    dropped_count: int = 0
    watermark_count: int = 0

    @property
    def events_per_second_actual(self) -> float:
        """Measured throughput."""
        if self.elapsed_seconds <= 0:
            return 0.0
        return self.events_sent / self.elapsed_seconds

    @property
    def duration_seconds(self) -> float:
        """The run's wall-clock seconds (``elapsed_seconds``; the tutorial's name)."""
        return self.elapsed_seconds

    def __repr__(self) -> str:
        faults = "".join(
            f", {name}={count}"
            for name, count in (
                ("duplicates", self.duplicate_count),
                ("dropped", self.dropped_count),
                ("watermarks", self.watermark_count),
            )
            if count
        )
        return (
            f"StreamResult(table={self.table!r}, events={self.events_sent:,}, "
            f"anomalies={self.anomaly_count}, ooo={self.out_of_order_count}{faults}, "
            f"{self.elapsed_seconds:.2f}s @ {self.events_per_second_actual:,.0f} eps)"
        )

    __str__ = __repr__
