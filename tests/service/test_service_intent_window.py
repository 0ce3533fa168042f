"""An intent's measured SLA over a sliding window: met, at risk (a spare lost, or forecast), and
violated, with the window forgetting old samples."""

from __future__ import annotations

from suanwang.control.intents import IntentStatus
from suanwang.service.intent_window import Sample, SlaWindow


def test_all_serving_is_met_and_a_lost_spare_is_at_risk() -> None:
    window = SlaWindow(window_s=60, target=0.99)
    window.add(Sample(0, serving=3, replicas=3, needed=2))
    assert window.status()[0] is IntentStatus.MET
    window.add(Sample(10, serving=2, replicas=3, needed=2))
    status, reason = window.status()
    assert status is IntentStatus.AT_RISK
    assert "1 spare(s) lost" in reason
    assert window.availability == 1.0  # the load is still fully served


def test_a_shortfall_is_forecast_then_violates_and_the_window_forgets() -> None:
    window = SlaWindow(window_s=60, target=0.5)
    for at_s in range(0, 60, 10):
        window.add(Sample(at_s, serving=2, replicas=2, needed=2))
    window.add(Sample(60, serving=0, replicas=2, needed=2))
    status, reason = window.status()
    # 6 good samples and 1 bad: the window holds, but were it to last, it would not.
    assert status is IntentStatus.AT_RISK
    assert reason.startswith("forecast")
    for at_s in range(70, 130, 10):
        window.add(Sample(at_s, serving=0, replicas=2, needed=2))
    status, reason = window.status()
    assert status is IntentStatus.VIOLATED
    assert "below the target 0.5" in reason
    for at_s in range(130, 200, 10):
        window.add(Sample(at_s, serving=2, replicas=2, needed=2))
    assert window.status()[0] is IntentStatus.MET  # the bad samples left the window
    assert all(s.at_s >= 190 - 60 for s in window.samples)
