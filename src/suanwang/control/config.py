"""The controller's tunables (``ControllerConfig``), apart so that its parts can read them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ControllerConfig:
    """Tunables of the controller.

    Attributes:
        max_wait_s: Patience in the queue of a task with neither latency budget nor deadline.
        max_replacements: Re-placements a task may have before it fails.
        retries_per_release: Failed placement attempts allowed per returned capacity (bounds
            the work a completion costs while the network is overloaded).
        window_s: 0 places each arrival at once (online). Above 0, arrivals without a session
            key are held for up to this long and placed together by the min-cost-flow planner
            (``place_window``; the driver calls it once ``window_due_s`` has come): a decision
            that sees its neighbours in time uses capacity better, at the price of the window
            in every such task's latency (counted against its budget, as waiting). Tasks with
            a session key, or whose patience is under ``windows.WINDOW_SHARE`` windows, skip it.
        window_forecast: Plan each window with the previous window's hot arrivals as the
            forecast of the hot work to come (an admission policy; ``control.windows``).
    """

    max_wait_s: float = 3600.0
    max_replacements: int = 3
    retries_per_release: int = 4
    window_s: float = 0.0
    window_forecast: bool = True

    def __post_init__(self) -> None:
        if not self.window_s >= 0 or self.window_s == float("inf"):
            raise ValueError(f"window_s must be finite and not negative, got {self.window_s}")
