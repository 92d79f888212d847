"""A truck heading any way is heard: its pose survives the codec for every course."""

from __future__ import annotations

import pytest

from drivers.agent.telemetry import agv_position, theta_of_track
from fleet.protocol.builders import make_visualization
from fleet.protocol.codec import decode, encode
from fleet.protocol.extensions import FixStatus, Gnss
from fleet.protocol.visualization import Visualization


@pytest.mark.parametrize("course", [0.0, 89.95, 90.0, 180.0, 269.95, 270.0, 270.04, 359.99])
def test_a_pose_at_any_course_decodes(course: float) -> None:
    """Due west is theta = -pi; rounded to 4 places it must not fall outside [-pi, pi]."""
    pose = agv_position(10.0, 20.0, theta_of_track(course), Gnss(status=FixStatus.FIX), "haiphong")
    message = make_visualization("YardFleet", "TT01", pose)
    back = decode(Visualization, encode(message))
    assert back.agv_position is not None
    assert back.agv_position.theta == pytest.approx(pose.theta)
