"""The media inventory a backup takes while the folder keeps changing."""

from pathlib import Path

from analytics.ops import backup_media
from analytics.ops.backup_media import RESTORE_TEMPORARY_PREFIX, media_inventory


def test_a_restores_temporary_files_are_not_media(tmp_path):
    (tmp_path / "imports").mkdir()
    (tmp_path / "imports" / "contacts.csv").write_text("phone\n+15550000001\n")
    (tmp_path / "imports" / f"{RESTORE_TEMPORARY_PREFIX}abc123").write_text("half written")

    assert [entry["path"] for entry in media_inventory(tmp_path)] == ["imports/contacts.csv"]


def test_a_file_deleted_during_the_walk_is_left_out(tmp_path, monkeypatch):
    (tmp_path / "kept.jpg").write_bytes(b"kept")
    (tmp_path / "purged.jpg").write_bytes(b"purged")
    checksum = backup_media._sha256

    def purged_while_reading(path: Path) -> str:
        if path.name == "purged.jpg":
            path.unlink()
        return checksum(path)

    monkeypatch.setattr(backup_media, "_sha256", purged_while_reading)

    inventory = media_inventory(tmp_path)

    assert [entry["path"] for entry in inventory] == ["kept.jpg"]
    assert inventory[0]["size"] == 4
