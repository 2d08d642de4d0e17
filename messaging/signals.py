"""Signals messaging sends for analytics (which listens; messaging never imports it).

All are sent after the surrounding transaction committed.
"""

from django.dispatch import Signal

# message=Message, previous=int status, status=int status, at=datetime
message_status_changed = Signal()
# message=Message (inbound), contact=Contact
inbound_message_received = Signal()
# message=Message (the inbound reply), payload=str, title=str, replied_to=Message | None
button_clicked = Signal()
