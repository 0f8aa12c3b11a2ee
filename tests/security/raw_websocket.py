"""A minimal websocket client over a plain socket, for hostile-client tests: it can stop reading
(with a tiny receive buffer, so the node's writes back up at once) and later drain what the node
sent, down to the close frame and its code and reason (RFC 6455 framing, text frames only)."""

from __future__ import annotations

import base64
import contextlib
import os
import socket
import struct
import time
from dataclasses import dataclass

OPCODE_TEXT = 0x1
OPCODE_CLOSE = 0x8
OPCODE_PING = 0x9


@dataclass(frozen=True, slots=True)
class Closed:
    """How the node ended the connection: its close frame, or None when it only reset it."""

    code: int | None
    reason: str
    frames_before: int


class RawWebSocket:
    def __init__(self, host: str, port: int, receive_buffer_bytes: int, timeout_s: float) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer_bytes)
        self.sock.settimeout(timeout_s)
        self.sock.connect((host, port))
        self._buffer = bytearray()
        self._offset = 0
        self._handshake(host, port)

    def _handshake(self, host: str, port: int) -> None:
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET /websocket HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        self.sock.sendall(request.encode())
        while b"\r\n\r\n" not in self._buffer:
            self._fill()
        end = self._buffer.index(b"\r\n\r\n") + 4
        head = bytes(self._buffer[:end])
        del self._buffer[:end]
        if not head.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(f"no websocket upgrade: {head[:200]!r}")

    def send_text(self, text: str) -> None:
        payload = text.encode()
        mask = os.urandom(4)
        length = len(payload)
        if length < 126:
            header = struct.pack("!BB", 0x80 | OPCODE_TEXT, 0x80 | length)
        elif length < 1 << 16:
            header = struct.pack("!BBH", 0x80 | OPCODE_TEXT, 0x80 | 126, length)
        else:
            header = struct.pack("!BBQ", 0x80 | OPCODE_TEXT, 0x80 | 127, length)
        masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def read_frame(self) -> tuple[int, bytes]:
        first, second = self._take(2)
        length = second & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._take(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._take(8))
        return first & 0x0F, self._take(length)

    def read_until_closed(self, deadline_s: float) -> Closed:
        """Read (and drop) frames until the node's close frame, EOF or a reset."""
        frames = 0
        end = time.monotonic() + deadline_s
        try:
            while time.monotonic() < end:
                opcode, payload = self.read_frame()
                if opcode == OPCODE_CLOSE:
                    code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                    self._answer_close(payload[:2])
                    return Closed(code, payload[2:].decode(errors="replace"), frames)
                frames += 1
        except (ConnectionError, EOFError):
            return Closed(None, "connection reset or closed without a close frame", frames)
        except TimeoutError:
            pass
        return Closed(None, f"no close frame within {deadline_s:g} s", frames)

    def _answer_close(self, code: bytes) -> None:
        """Echo the close code, as a well-behaved client does, and hang up."""
        mask = os.urandom(4)
        masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(code))
        frame = struct.pack("!BB", 0x80 | OPCODE_CLOSE, 0x80 | len(code)) + mask + masked
        with contextlib.suppress(OSError):  # the node may have dropped the socket already
            self.sock.sendall(frame)
        self.sock.close()

    def close(self) -> None:
        self.sock.close()

    def _take(self, count: int) -> bytes:
        while len(self._buffer) - self._offset < count:
            self._fill()
        out = bytes(self._buffer[self._offset : self._offset + count])
        self._offset += count
        return out

    def _fill(self) -> None:
        if self._offset:
            del self._buffer[: self._offset]
            self._offset = 0
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise EOFError("connection closed")
        self._buffer += chunk
