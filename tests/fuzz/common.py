"""What the fuzz targets share: the failure type and a frame builder."""

from __future__ import annotations

__all__ = ["FuzzFailure", "fail", "frame"]


class FuzzFailure(AssertionError):
    """An invariant broke; the message says which."""


def fail(text: str) -> None:
    raise FuzzFailure(text)


def frame(begin: bytes, body: bytes) -> bytes:
    """``8=begin|9=len|body10=sum|`` with the right BodyLength and CheckSum; ``body`` ends with SOH."""
    head = b"8=%s\x019=%d\x01" % (begin, len(body))
    return head + body + b"10=%03d\x01" % (sum(head + body) % 256)
