"""Splitting a dump into statements, the way the mysql client does (no database needed)."""

from __future__ import annotations

import zlib

import pytest

from countq.errors import DumpError
from countq.importer.dump import Statement, iter_lines, split_statements

DUMP = (
    "-- header; not a statement\r\n"
    "/*!40101 SET NAMES utf8mb4 */;\r\n"
    "SELECT 1--1;\n"  # `--` without a space is arithmetic, not a comment
    'SELECT \'a\\\';b\', "c"";d", `e``;f`;;\n'
    "  # hash; comment\n"
    "INSERT INTO t VALUES ('x\n"
    "y;z')  /* note; */ ;\n"
    "DELIMITER $$\n"
    "CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END$$\n"
    "delimiter ;\n"
    "SELECT 'ünï\u2028cödé';\n"
    "SELECT 'no delimiter at the end'"
)

EXPECTED = [
    Statement("/*!40101 SET NAMES utf8mb4 */", 2),
    Statement("SELECT 1--1", 3),
    Statement('SELECT \'a\\\';b\', "c"";d", `e``;f`', 4),
    Statement("INSERT INTO t VALUES ('x\ny;z')  /* note; */", 6),
    Statement("CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END", 9),
    Statement("SELECT 'ünï\u2028cödé'", 11),
    Statement("SELECT 'no delimiter at the end'", 12),
]


def chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("size", [1, 2, 7, 64, 1 << 20])
def test_split_does_not_depend_on_chunk_boundaries(size: int) -> None:
    assert list(split_statements(iter_lines(chunks(DUMP.encode(), size)))) == EXPECTED


def test_gzip_stream() -> None:
    packer = zlib.compressobj(wbits=31)
    data = packer.compress(DUMP.encode()) + packer.flush()
    assert list(split_statements(iter_lines(chunks(data, 5), gzipped=True))) == EXPECTED


def test_implicit_commit_classification() -> None:
    assert Statement("/*!50003 CREATE*/ TRIGGER x", 1).commits_implicitly
    assert Statement("drop table t", 1).commits_implicitly
    assert not Statement("INSERT INTO t VALUES (1)", 1).commits_implicitly
    assert not Statement("/*!40101 SET NAMES utf8 */", 1).commits_implicitly


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("SELECT 1;\nSELECT 'open;\n", 2, "unterminated ' quoted"),
        ("SELECT 1;\n\n/* open\n;\n", 3, "unterminated /*"),
        ("DELIMITER\nSELECT 1;\n", 1, "DELIMITER without"),
    ],
)
def test_malformed_dump_names_the_line(text: str, line: int, message: str) -> None:
    with pytest.raises(DumpError, match=message) as err:
        list(split_statements(iter_lines([text.encode()])))
    assert err.value.line == line


def test_bad_utf8_is_a_dump_error() -> None:
    with pytest.raises(DumpError, match="not UTF-8"):
        list(iter_lines([b"SELECT 1;\n", b"SELECT '\xff';\n"]))
