"""A fake WhatsApp Cloud API: a real HTTP server the Meta provider talks to in the demo and
the tests (`manage.py whatsapp_simulator`, or `SimulatorServer(...).start()` in a test)."""

from .config import SimulatorConfig
from .server import SimulatorServer

__all__ = ["SimulatorConfig", "SimulatorServer"]
