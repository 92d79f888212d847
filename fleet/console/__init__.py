"""The fleet console: a web page served by the dispatcher, for the terminal's dispatchers.

- `fleet.console.watch`: what each truck says on the wire (pose, speed, fix), noted.
- `fleet.console.snapshot`: trucks, crane queues, cranes and closed lanes as JSON.
- `fleet.console.alarms`: alarms in tiers, acknowledged by operators.
- `fleet.console.actions`: an operator's actions through the dispatcher, journalled.
- `fleet.console.bridge`: the one door between the web thread and the dispatcher's.
- `fleet.console.operators`, `fleet.console.sessions`: who may sign in, and do what.
- `fleet.console.app`, `fleet.console.serving`: the FastAPI app, and uvicorn in a thread.
"""

from fleet.console.bridge import Bridge
from fleet.console.watch import Watch

__all__ = ["Bridge", "Watch"]
