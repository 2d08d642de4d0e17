"""The embedded mode's broker: kombu's filesystem transport, with messages written atomically.

kombu creates a message file empty and then writes it; a worker polling the folder in between
moves and reads the empty file and dies with "Unrecoverable error: JSONDecodeError" (kombu
5.7), leaving `make run` without a worker. Here each message is written to a hidden file
first and renamed into place: a worker only ever sees complete messages. Production uses
Redis and never loads this.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        # A leading dot: `_get` only takes files named `<stamp>_<uuid>.<queue>.msg`.
        partial = os.path.join(self.data_folder_out, f".{name}.partial")
        try:
            with open(partial, "wb") as fh:
                fh.write(str_to_bytes(dumps(payload)))
            os.replace(partial, os.path.join(self.data_folder_out, name))
        except OSError as exc:
            raise ChannelError(f"Cannot add file {name!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
