"""ROS 2 bags of the fleet: record a shift, read any bag, replay its fixes onto the yard.

recorder   BagRecorder: NavSatFix and TruckClass per truck, TruckState, JobEvent (MCAP, zstd)
journal_topics  record_job_events(): a journal's job changes as JobEvents into a bag
reader     read_fixes / messages / topics of any bag (rosbag2 directory or ROS 1 .bag)
replay     replay(): paced, map-matched fixes fed to a hook, and a ReplayReport
topicmap   TopicMap: which truck a topic belongs to (TOML file or the topic's name)
picture    draw_replay(): the tracks over the yard, as PNG or SVG
types      typestore(): ROS 2 Humble's types plus our yardfleet_msgs (msg/*.msg)
"""

from sim.bags.reader import BagError, Fix, TopicInfo, fix_topics, messages, read_fixes, topics
from sim.bags.recorder import BagRecorder
from sim.bags.replay import PacedClock, ReplayedFix, ReplayReport, replay
from sim.bags.topicmap import TopicMap, TopicMapError
from sim.bags.types import typestore

__all__ = [
    "BagError",
    "BagRecorder",
    "Fix",
    "PacedClock",
    "ReplayReport",
    "ReplayedFix",
    "TopicInfo",
    "TopicMap",
    "TopicMapError",
    "fix_topics",
    "messages",
    "read_fixes",
    "replay",
    "topics",
    "typestore",
]
