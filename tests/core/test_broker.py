"""The embedded broker: kombu's filesystem transport with atomic message files."""

from kombu import Connection

from config.celery import app


def _connection(tmp_path):
    folder = tmp_path / "broker"
    folder.mkdir()
    return Connection(
        "filesystem://",
        transport="core.broker:Transport",
        transport_options={"data_folder_in": str(folder), "data_folder_out": str(folder)},
    ), folder


def test_messages_round_trip_and_no_partial_file_is_left(tmp_path):
    connection, folder = _connection(tmp_path)
    with connection:
        queue = connection.SimpleQueue("webhooks")
        queue.put({"task": "messaging.webhook_drain"})
        assert [p.name.endswith(".webhooks.msg") for p in folder.iterdir()] == [True]
        message = queue.get(timeout=1)
        assert message.payload == {"task": "messaging.webhook_drain"}
        message.ack()
        queue.close()
    assert not list(folder.iterdir())


def test_a_file_still_being_written_is_not_read(tmp_path):
    connection, folder = _connection(tmp_path)
    with connection:
        # What a producer leaves while writing: the worker must neither take nor choke on it.
        (folder / ".1_x.webhooks.msg.partial").write_bytes(b"")
        queue = connection.SimpleQueue("webhooks")
        queue.put({"n": 1})
        message = queue.get(timeout=1)
        assert message.payload == {"n": 1}
        message.ack()
        queue.close()
    assert [p.name for p in folder.iterdir()] == [".1_x.webhooks.msg.partial"]


def test_the_embedded_mode_uses_it(settings):
    if not app.conf.broker_url.startswith("filesystem://"):
        assert app.conf.broker_transport is None
    else:
        assert app.conf.broker_transport == "core.broker:Transport"
