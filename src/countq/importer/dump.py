"""Reading a MySQL dump: bytes to lines to statements, the way the mysql client
splits them. Pure: no database, no AWS."""

from __future__ import annotations

import codecs
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from countq.errors import DumpError

# Statements after which MySQL has committed whatever came before (and
# themselves): DDL, account management, locking and explicit transaction control.
_IMPLICIT_COMMIT = frozenset(
    {
        "ALTER",
        "CREATE",
        "DROP",
        "RENAME",
        "TRUNCATE",
        "GRANT",
        "REVOKE",
        "LOCK",
        "UNLOCK",
        "FLUSH",
        "ANALYZE",
        "OPTIMIZE",
        "REPAIR",
        "BEGIN",
        "START",
        "COMMIT",
        "INSTALL",
        "UNINSTALL",
    }
)
_FIRST_WORD = re.compile(r"(?:/\*!\d*\s*)?([A-Za-z]+)")
_DELIMITER_CMD = re.compile(r"\s*delimiter(?:\s+(\S+)|\s*$)", re.IGNORECASE)
_QUOTE_END = {
    "'": re.compile(r"\\.|'", re.DOTALL),
    '"': re.compile(r'\\.|"', re.DOTALL),
    "`": re.compile(r"`"),
}
_COMMENT_END = re.compile(r"\*/")


def iter_lines(chunks: Iterable[bytes], *, gzipped: bool = False) -> Iterator[str]:
    """Decode byte chunks into lines that keep their line ending.

    Memory stays at one chunk plus one line, whatever the size of the dump.
    """
    inflate = zlib.decompressobj(wbits=47) if gzipped else None  # 47: gzip or zlib header
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    pending = ""
    line_no = 1
    for chunk in chunks:
        data = inflate.decompress(chunk) if inflate else chunk
        try:
            text = pending + decoder.decode(data)
        except UnicodeDecodeError as exc:
            raise DumpError(f"not UTF-8 text: {exc.reason}", line_no) from None
        # Only "\n" ends a line, as for the mysql client (a "\r\n" may be cut
        # between chunks; str.splitlines would also split on \u2028 and co.).
        lines = text.split("\n")
        pending = lines.pop()  # the rest of a line the next chunk continues
        line_no += len(lines)
        for line in lines:
            yield line + "\n"
    tail = pending + decoder.decode(inflate.flush() if inflate else b"", final=True)
    if tail:
        yield tail


@dataclass(frozen=True, slots=True)
class Statement:
    sql: str
    line: int  # 1-based line of the statement's first character in the dump

    @property
    def commits_implicitly(self) -> bool:
        match = _FIRST_WORD.match(self.sql)
        return match is not None and match.group(1).upper() in _IMPLICIT_COMMIT


def split_statements(lines: Iterable[str]) -> Iterator[Statement]:
    """Split a MySQL dump the way the mysql client does.

    Understands `--`, `#` and `/* */` comments (`/*! */` is executable and kept),
    quoted strings and identifiers with backslash escapes, and the client's
    DELIMITER command. Comments before a statement are dropped so its reported
    line is that of its first token.
    """
    splitter = _Splitter()
    for line_no, line in enumerate(lines, start=1):
        yield from splitter.feed(line_no, line)
    last = splitter.end()
    if last is not None:
        yield last


def _special_pattern(delimiter: str) -> re.Pattern[str]:
    # The delimiter comes first so a custom one like `//` or `$$` wins ties.
    return re.compile(re.escape(delimiter) + r"""|['"`]|--(?=\s|$)|#|/\*""")


@dataclass
class _Splitter:
    """The splitter's state between lines."""

    delimiter: str = ";"
    special: re.Pattern[str] = field(default_factory=lambda: _special_pattern(";"))
    buf: list[str] = field(default_factory=list)
    start: int = 0  # line of the current statement's first token; 0 while none yet
    state: str = ""  # "" in code, a quote char in quoted text, "*" in a block comment
    opened_at: int = 0  # where the current quoted text or comment began, for errors

    def feed(self, line_no: int, line: str) -> Iterator[Statement]:
        if not self.state and not self.start and self._delimiter_command(line_no, line):
            return
        pos = 0
        while pos < len(line):
            if self.state == "*":
                pos = self._comment(line, pos)
            elif self.state:
                pos = self._quoted(line, pos)
            else:
                pos, statement = self._code(line_no, line, pos)
                if statement is not None:
                    yield statement

    def end(self) -> Statement | None:
        if self.state == "*":
            raise DumpError("unterminated /* comment", self.opened_at)
        if self.state:
            raise DumpError(f"unterminated {self.state} quoted text", self.opened_at)
        return self._finish()

    def _delimiter_command(self, line_no: int, line: str) -> bool:
        command = _DELIMITER_CMD.match(line)
        if not command:
            return False
        if not command.group(1):
            raise DumpError("DELIMITER without a delimiter", line_no)
        self.delimiter = command.group(1)
        self.special = _special_pattern(self.delimiter)
        return True

    def _comment(self, line: str, pos: int) -> int:
        end = _COMMENT_END.search(line, pos)
        stop = end.end() if end else len(line)
        if self.start:
            self.buf.append(line[pos:stop])
        if end:
            self.state = ""
        return stop

    def _quoted(self, line: str, pos: int) -> int:
        end = _QUOTE_END[self.state].search(line, pos)
        while end and end.group() != self.state:  # skip escapes
            end = _QUOTE_END[self.state].search(line, end.end())
        stop = end.end() if end else len(line)
        self.buf.append(line[pos:stop])
        if end:
            self.state = ""
        return stop

    def _code(self, line_no: int, line: str, pos: int) -> tuple[int, Statement | None]:
        """Up to and including the next special mark; a statement when it was the delimiter."""
        found = self.special.search(line, pos)
        stop = found.start() if found else len(line)
        text = line[pos:stop]
        if not self.start and text.strip():
            self.start, text = line_no, text.lstrip()
        if self.start:
            self.buf.append(text)
        if not found:
            return len(line), None
        mark, pos = found.group(), found.end()
        if mark == self.delimiter:
            return pos, self._finish()
        if mark in ("--", "#"):
            if self.start:
                self.buf.append(mark + line[pos:])
            return len(line), None
        executable = mark == "/*" and line.startswith(("!", "+"), pos)
        if not self.start and (mark != "/*" or executable):
            self.start = line_no
        if self.start:
            self.buf.append(mark)
        self.state, self.opened_at = ("*" if mark == "/*" else mark), line_no
        return pos, None

    def _finish(self) -> Statement | None:
        statement = Statement("".join(self.buf).strip(), self.start) if self.start else None
        self.buf, self.start = [], 0
        return statement
