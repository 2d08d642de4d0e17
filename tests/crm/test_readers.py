"""Streaming readers: exact line numbers, resumable offsets, flat memory."""

import io
import json
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm.importing.readers import (
    BOM,
    CsvReader,
    FileRefused,
    JsonArrayReader,
    JsonLinesReader,
    upload_sniff,
)

pytestmark = pytest.mark.django_db(databases=[])


def records(reader, **kwargs):
    return [(r.line, r.data, r.error) for r in reader.records(**kwargs)]


def test_csv_lines_offsets_and_bom():
    text = 'phone,Name \r\n+919812345678,Asha\r\n\r\n+919812345679,"Two\nlines"\n+9198,x,extra\n'
    fh = io.BytesIO(BOM + text.encode())
    reader = CsvReader(fh)
    assert reader.header == ["phone", "name"]
    got = list(reader.records())
    assert [(r.line, r.error) for r in got] == [
        (2, None), (4, None), (6, "3 cells but the header has 2 columns"),
    ]  # fmt: skip
    assert got[1].data == {"phone": "+919812345679", "name": "Two\nlines"}
    assert got[-1].end_byte == len(BOM) + len(text.encode())
    # Resuming at any record's end gives exactly the records after it.
    for i, record in enumerate(got):
        rest = records(CsvReader(fh), start_byte=record.end_byte, start_line=record.end_line)
        assert rest == [(r.line, r.data, r.error) for r in got[i + 1 :]]


def test_csv_bad_utf8_line_is_a_bad_record_and_the_rest_reads():
    data = b"phone,name\n+919812345678,ok\n+919812345679,\xff\xfe\n+919812345670,fine\n"
    got = list(CsvReader(io.BytesIO(data)).records())
    assert [(r.line, r.error) for r in got] == [
        (2, None), (3, "not valid UTF-8 text"), (4, None),
    ]  # fmt: skip


def test_jsonl_offsets_and_errors():
    lines = ['{"phone": "1"}', "", "[1, 2]", "{nope", '{"phone": "2", "tags": ["a"]}']
    data = ("\n".join(lines) + "\n").encode()
    got = list(JsonLinesReader(io.BytesIO(data)).records())
    assert [(r.line, r.error is None) for r in got] == [
        (1, True), (3, False), (4, False), (5, True),
    ]  # fmt: skip
    assert got[1].error == "not a JSON object"
    rest = list(JsonLinesReader(io.BytesIO(data)).records(
        start_byte=got[1].end_byte, start_line=got[1].end_line
    ))  # fmt: skip
    assert [r.line for r in rest] == [4, 5]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {"phone": st.text(max_size=12), "name": st.text(max_size=30)},
            optional={"n": st.integers(), "tags": st.lists(st.text(max_size=5), max_size=3)},
        ),
        max_size=12,
    ),
    st.sampled_from([None, 0, 2]),
    st.booleans(),
)
def test_json_array_reads_what_json_wrote_and_resumes_anywhere(items, indent, bom):
    data = json.dumps(items, indent=indent, ensure_ascii=False).encode()
    data = (BOM if bom else b"") + data
    got = list(JsonArrayReader(io.BytesIO(data)).records())
    assert [r.data for r in got] == items
    assert all(r.error is None for r in got)
    for i, record in enumerate(got):
        rest = list(JsonArrayReader(io.BytesIO(data)).records(
            start_byte=record.end_byte, start_line=record.end_line
        ))  # fmt: skip
        assert [r.data for r in rest] == items[i + 1 :]
        assert [r.line for r in rest] == [r.line for r in got[i + 1 :]]


def test_json_array_line_numbers():
    data = b'[\n  {"phone": "1"},\n\n  {"phone":\n "2"}, 5\n]'
    got = list(JsonArrayReader(io.BytesIO(data)).records())
    assert [(r.line, r.error) for r in got] == [(2, None), (4, None), (5, "not a JSON object")]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'[{"phone": "1"} {"phone": "2"}]', "Expected ','"),
        (b'[{"phone": "1"},', "not closed"),
        (b'[{"phone": "1"}] trailing', "Unexpected data"),
        (b'[{"phone": "1", }]', "Broken JSON"),
    ],
)
def test_broken_json_arrays_stop_with_the_place(data, message):
    with pytest.raises(FileRefused) as excinfo:
        list(JsonArrayReader(io.BytesIO(data)).records())
    assert message in excinfo.value.message


def test_reading_a_large_file_keeps_memory_flat(monkeypatch):
    """Peak allocation does not grow with the file: 4x the rows, the same peak. (Chunks are
    made small so that small files already span many of them.)"""
    monkeypatch.setattr("crm.importing.readers.CHUNK", 4096)

    class Generated(io.RawIOBase):
        """A file generated on the fly, so the test itself holds none of it in memory."""

        def __init__(self, head: bytes, row, count: int, tail: bytes = b""):
            self.parts = (head, row, count, tail)
            self.pos = 0
            self.buffer = b""
            self.index = 0

        def readable(self):
            return True

        def seekable(self):
            return True

        def seek(self, offset, whence=0):
            self.pos, self.index, self.buffer = 0, 0, b""
            if offset:
                self.read(offset)
            return offset

        def read(self, size=-1):
            head, row, count, tail = self.parts
            while len(self.buffer) < size and self.index <= count + 1:
                if self.index == 0:
                    self.buffer += head
                elif self.index <= count:
                    self.buffer += row(self.index)
                else:
                    self.buffer += tail
                self.index += 1
            out, self.buffer = self.buffer[:size], self.buffer[size:]
            self.pos += len(out)
            return out

    def peak(make_reader, n: int) -> int:
        reader = make_reader(n)
        tracemalloc.start()
        count = sum(1 for _ in reader.records())
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert count == n
        return top

    def csv_reader(n):
        row = lambda i: f"+91981{i:07d},Person {i},a;b\n".encode()  # noqa: E731
        return CsvReader(Generated(b"phone,name,tags\n", row, n))

    def json_reader(n):
        row = lambda i: (b"," if i > 1 else b"") + json.dumps({"phone": str(i)}).encode()  # noqa: E731
        return JsonArrayReader(Generated(b"[", row, n, b"]"))

    for make_reader in (csv_reader, json_reader):
        small, large = peak(make_reader, 2_000), peak(make_reader, 8_000)  # 4x the file
        assert large < 100_000, large
        assert large < small * 1.2 + 10_000, (small, large)


def test_sniff_reports_format_and_columns():
    assert upload_sniff(io.BytesIO(b"Phone,Name\n1,2\n"), "x.CSV") == ("csv", ["phone", "name"])
    assert upload_sniff(io.BytesIO(b'[{"phone": "1"}]'), "x.json")[0] == "json"
    assert upload_sniff(io.BytesIO(b'{"phone": "1"}\n'), "x.ndjson")[0] == "jsonl"
