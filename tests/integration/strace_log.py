"""Reading the output of ``strace -f -tt -yy -xx`` into ordered system calls.

With ``-xx`` strace prints every string, paths included, as ``\\xNN`` escapes, and with ``-yy``
every file-descriptor argument is followed by what it is: ``7<\\x2f\\x74...>`` (a path) or
``9<TCP:[127.0.0.1:5000->127.0.0.1:6000]>`` (a socket's two ends), resolved when the call was
made. A call interrupted by another thread's call is printed in two parts (``<unfinished ...>``,
then ``<... name resumed>``); :func:`parse` joins them and keeps where each began and ended, as
positions in the file, which strace writes in the order it saw things happen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_LINE = re.compile(r"^(\d+) +\d\d:\d\d:\d\d\.\d+ (.*)$")
_RESUMED = re.compile(r"^<\.\.\. (\w+) resumed>(.*)$")
_UNFINISHED = " <unfinished ...>"
_CALL = re.compile(r"^(\w+)\((.*)$")
_FIRST_FD = re.compile(r"^(-?\d+|AT_FDCWD)<(TCP:\[[^\]]*\]|[^>]*)>")
_TCP = re.compile(r"^TCP:\[([\d.]+):(\d+)->([\d.]+):(\d+)\]$")
_HEX = re.compile(r"\\x([0-9a-f]{2})")
_STRINGS = re.compile(r'"((?:\\x[0-9a-f]{2})*)"')


@dataclass(frozen=True, slots=True)
class Call:
    """One system call as strace showed it."""

    tid: int
    name: str
    text: str
    """Everything after the name: arguments, ``= result``."""
    began: int
    """Position (line number) where the call was entered."""
    ended: int
    """Position where it returned (the same as ``began`` unless another thread came between)."""

    @property
    def fd_target(self) -> str | None:
        """What the first argument's descriptor was: a path, or ``TCP:[a:p->b:q]``."""
        match = _FIRST_FD.match(self.text)
        if match is None:
            return None
        target = match.group(2)
        return target if target.startswith("TCP:") else decode_hex(target).decode(errors="replace")

    @property
    def tcp_ports(self) -> tuple[int, int] | None:
        """(local port, remote port) when the first argument is a TCP socket."""
        target = self.fd_target
        match = _TCP.match(target) if target else None
        return None if match is None else (int(match.group(2)), int(match.group(4)))

    @property
    def strings(self) -> list[str]:
        """The string arguments, decoded (paths for ``rename``/``openat``)."""
        return [decode_hex(s).decode(errors="replace") for s in _STRINGS.findall(self.text)]

    @property
    def buffers(self) -> list[bytes]:
        """The string arguments as raw bytes (the data of a write, in order)."""
        return [decode_hex(s) for s in _STRINGS.findall(self.text)]

    def carries(self, data: bytes) -> bool:
        """True if ``data`` appears whole inside one buffer this call wrote."""
        return hex_escaped(data) in self.text

    @property
    def succeeded(self) -> bool:
        result = self.text.rsplit(" = ", 1)
        return len(result) == 2 and not result[1].startswith("-1")


def decode_hex(escaped: str) -> bytes:
    return bytes(int(h, 16) for h in _HEX.findall(escaped))


def hex_escaped(data: bytes) -> str:
    return "".join(f"\\x{b:02x}" for b in data)


def parse(lines: list[str]) -> list[Call]:
    """Calls in the order they were entered, each with where it returned."""
    calls: list[Call] = []
    pending: dict[int, tuple[int, str]] = {}
    for position, line in enumerate(lines):
        match = _LINE.match(line.rstrip("\n"))
        if match is None:
            continue
        tid, rest = int(match.group(1)), match.group(2)
        resumed = _RESUMED.match(rest)
        if resumed is not None:
            if tid in pending:
                began, head = pending.pop(tid)
                calls.append(_make(tid, head + resumed.group(2), began, position))
            continue
        if rest.endswith(_UNFINISHED):
            pending[tid] = (position, rest[: -len(_UNFINISHED)])
            continue
        if _CALL.match(rest):
            calls.append(_make(tid, rest, position, position))
    calls.sort(key=lambda call: call.began)
    return calls


def _make(tid: int, whole: str, began: int, ended: int) -> Call:
    match = _CALL.match(whole)
    assert match is not None, whole
    return Call(tid, match.group(1), match.group(2), began, ended)
