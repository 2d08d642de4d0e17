"""Files that go with the rows that named them: deleted only once the transaction commits."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from django.core.files.storage import Storage, default_storage
from django.db import transaction

logger = logging.getLogger(__name__)


def files_delete_on_commit(
    names: Iterable[str], *, storage: Storage | Callable[[], Storage] = default_storage
) -> None:
    """Delete `names` from `storage` after the current transaction commits (at once outside
    one). A rollback keeps every file, so a row never points at a file already gone; a file
    that cannot be deleted is logged and left, never failing the work that committed.
    `storage` may be a callable, resolved when the files are deleted."""
    doomed = sorted(set(names))
    if not doomed:
        return

    def delete() -> None:
        target = storage() if callable(storage) and not isinstance(storage, Storage) else storage
        for name in doomed:
            try:
                target.delete(name)
            except OSError:
                logger.warning("could not delete file %s", name, exc_info=True)

    transaction.on_commit(delete)
