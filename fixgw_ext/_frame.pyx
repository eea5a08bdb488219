# cython: language_level=3
"""Compiled twin of the frame builder in ``fixgw.session.messages`` (``build_frame``, the specification).

One call builds a whole outbound frame into one new bytes object: the BodyLength is worked out from the
parts' lengths, the CheckSum is summed over the bytes written here plus ``shared_sum``, the known byte
sum of ``shared`` (a body encoded once for many sessions), which is copied but never summed again.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.string cimport memcpy

__all__ = ["build_frame"]


cdef inline Py_ssize_t _put(char* out, Py_ssize_t at, bytes part, unsigned long* total):
    """Copy ``part`` to ``out[at:]``, add its bytes to ``total``; return the new offset."""
    cdef Py_ssize_t n = PyBytes_GET_SIZE(part)
    cdef const unsigned char* src = <const unsigned char*> PyBytes_AS_STRING(part)
    cdef unsigned long s = 0
    cdef Py_ssize_t i
    memcpy(out + at, src, n)
    for i in range(n):
        s += src[i]
    total[0] += s
    return at + n


cdef inline Py_ssize_t _put_raw(char* out, Py_ssize_t at, const char* src, Py_ssize_t n, unsigned long* total):
    cdef Py_ssize_t i
    cdef unsigned long s = 0
    for i in range(n):
        out[at + i] = src[i]
        s += <unsigned char> src[i]
    total[0] += s
    return at + n


cdef inline Py_ssize_t _decimal(long long value, char* buf):
    """Write ``value`` in decimal to the end of ``buf[24]``; return the number of characters."""
    cdef unsigned long long v = <unsigned long long> (-value if value < 0 else value)
    cdef Py_ssize_t n = 0
    while True:
        buf[23 - n] = <char> (48 + v % 10)
        v //= 10
        n += 1
        if v == 0:
            break
    if value < 0:
        buf[23 - n] = b'-'
        n += 1
    return n


def build_frame(bytes begin, bytes mid, bytes msg_type, long long seq, bytes sending_time, bytes extra_header,
                bytes lead, bytes shared, long shared_sum):
    """Return ``begin BodyLength SOH 35=msg_type mid seq SOH 52=sending_time SOH extra_header lead shared
    10=CheckSum SOH``; ``shared_sum`` must be the byte sum of ``shared`` (see the module docstring)."""
    cdef char seq_buf[24]
    cdef char len_buf[24]
    cdef Py_ssize_t seq_n = _decimal(seq, seq_buf)
    cdef Py_ssize_t inner = (3 + PyBytes_GET_SIZE(msg_type) + PyBytes_GET_SIZE(mid) + seq_n + 4
                             + PyBytes_GET_SIZE(sending_time) + 1 + PyBytes_GET_SIZE(extra_header)
                             + PyBytes_GET_SIZE(lead))
    cdef Py_ssize_t n_shared = PyBytes_GET_SIZE(shared)
    cdef Py_ssize_t len_n = _decimal(inner + n_shared, len_buf)
    cdef Py_ssize_t size = PyBytes_GET_SIZE(begin) + len_n + 1 + inner + n_shared + 7
    cdef bytes result = PyBytes_FromStringAndSize(NULL, size)
    cdef char* out = PyBytes_AS_STRING(result)
    cdef unsigned long total = 0
    cdef Py_ssize_t at = 0
    cdef unsigned int check
    at = _put(out, at, begin, &total)
    at = _put_raw(out, at, len_buf + 24 - len_n, len_n, &total)
    at = _put_raw(out, at, b"\x0135=", 4, &total)
    at = _put(out, at, msg_type, &total)
    at = _put(out, at, mid, &total)
    at = _put_raw(out, at, seq_buf + 24 - seq_n, seq_n, &total)
    at = _put_raw(out, at, b"\x0152=", 4, &total)
    at = _put(out, at, sending_time, &total)
    at = _put_raw(out, at, b"\x01", 1, &total)
    at = _put(out, at, extra_header, &total)
    at = _put(out, at, lead, &total)
    memcpy(out + at, PyBytes_AS_STRING(shared), n_shared)
    at += n_shared
    check = <unsigned int> ((total + <unsigned long> shared_sum) & 0xFF)
    out[at] = b'1'
    out[at + 1] = b'0'
    out[at + 2] = b'='
    out[at + 3] = <char> (48 + check // 100)
    out[at + 4] = <char> (48 + (check // 10) % 10)
    out[at + 5] = <char> (48 + check % 10)
    out[at + 6] = b'\x01'
    return result
