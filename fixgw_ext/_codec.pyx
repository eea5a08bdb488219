# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled twin of ``fixgw.codec``'s framer, parser and encoder.

The pure modules ``fixgw/codec/_parser.py`` and ``_encoder.py`` are the specification: this module must
return the same items, fields, errors and bytes for every input. Only the hot loops live here; the
sentinel, ``Garbled``, the value decoders, group splitting and the rare encoder cases are the pure
module's own objects, called from here.

A parsed ``Message`` is lazy: it keeps the frame's bytes, a C array of (tag, value start, value end)
and a 256-entry table of first occurrences for low tags; ``fields`` and the index of higher tags are
built on first use.
"""

cimport cython
from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.long cimport PyLong_AsLongLongAndOverflow
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE
from cpython.unicode cimport PyUnicode_AsUTF8AndSize, PyUnicode_DecodeASCII
from libc.stdint cimport int32_t, uint8_t
from libc.string cimport memchr, memcmp, memcpy, memmove, memset

from decimal import Decimal

from fixgw.codec import _encoder as _enc
from fixgw.codec import _parser as _spec

__all__ = ["Message", "Garbled", "Parser", "NEED_MORE", "encode"]

NEED_MORE = _spec.NEED_MORE
Garbled = _spec.Garbled

cdef object _NEED_MORE = _spec.NEED_MORE
cdef object _Garbled = _spec.Garbled
cdef object _as_int = _spec._as_int
cdef object _as_decimal = _spec._as_decimal
cdef object _as_str = _spec._as_str
cdef object _as_bool = _spec._as_bool
cdef object _as_char = _spec._as_char
cdef object _as_utc_ns = _spec._as_utc_ns
cdef object _first_index = _spec._first_index
cdef object _group = _spec._group
cdef object _repr = _spec._repr
cdef object _check_data_tags = _spec._check_data_tags
cdef object _encode_value = _enc.encode_value
cdef object _format_decimal = _enc.format_decimal
cdef object _py_encode = _enc.encode
cdef object _DecimalType = Decimal

cdef Py_ssize_t MAX_GARBLED = _spec.MAX_GARBLED
cdef Py_ssize_t MAX_TAG_DIGITS = _spec.MAX_TAG_DIGITS

cdef str R_DATA_BEFORE = _spec.R_DATA_BEFORE
cdef str R_FIRST_NOT_8 = _spec.R_FIRST_NOT_8
cdef str R_NOT_FIX = _spec.R_NOT_FIX
cdef str R_BEGIN_LONG = _spec.R_BEGIN_LONG
cdef str R_SECOND_NOT_9 = _spec.R_SECOND_NOT_9
cdef str R_LEN_NAN = _spec.R_LEN_NAN
cdef str R_LEN_LONG = _spec.R_LEN_LONG
cdef str R_LEN_LARGE = _spec.R_LEN_LARGE
cdef str R_LEN_WRONG = _spec.R_LEN_WRONG
cdef str R_CKS_DIGITS = _spec.R_CKS_DIGITS
cdef str R_CKS_MISMATCH = _spec.R_CKS_MISMATCH
cdef str R_DATA_LEN = _spec.R_DATA_LEN
cdef str R_NO_SOH = _spec.R_NO_SOH
cdef str R_THIRD_NOT_35 = _spec.R_THIRD_NOT_35

cdef enum:
    LOW_TAGS = 256          # first-occurrence table size in a Message
    FAR = 255               # table mark: first occurrence at index >= FAR - 1, scan from there
    LOW_DATA = 1024         # length tags below this are looked up in a C table
    SOH = 1

cdef struct Span:
    int32_t tag
    int32_t start           # value offsets inside the raw frame
    int32_t end


cdef inline bint _digit(unsigned char c) noexcept nogil:
    return <unsigned char>(c - 48) < 10


cdef inline Py_ssize_t _find_byte(const unsigned char* b, Py_ssize_t lo, Py_ssize_t hi, int c) noexcept nogil:
    if hi <= lo:
        return -1
    cdef const unsigned char* q = <const unsigned char*>memchr(b + lo, c, hi - lo)
    return -1 if q == NULL else q - b


cdef inline Py_ssize_t _find_begin(const unsigned char* b, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    """Position of the first b"8=FIX" lying wholly in b[lo:hi], or -1."""
    cdef Py_ssize_t i = lo
    while hi - i >= 5:
        i = _find_byte(b, i, hi - 4, 56)
        if i < 0:
            return -1
        if memcmp(b + i, b"8=FIX", 5) == 0:
            return i
        i += 1
    return -1


# -- Message --------------------------------------------------------------------------------------
@cython.final
@cython.freelist(32)
cdef class Message:
    """An ordered list of (tag, value) fields; repeated tags allowed; values stay ``bytes``."""

    cdef object _raw
    cdef object _invalid       # raw bytes of the first malformed field, or None
    cdef list _fields          # materialised fields, or None until asked for (parsed messages)
    cdef dict _index           # first position of each tag, built on demand
    cdef Span* _spans          # parsed messages only
    cdef Py_ssize_t _n
    cdef uint8_t _low[LOW_TAGS]

    def __init__(self, fields, raw=None, invalid_field=None):
        if self._spans != NULL:
            PyMem_Free(self._spans)
            self._spans = NULL
        self._fields = list(fields)
        self._raw = raw
        self._invalid = invalid_field
        self._index = None
        self._n = len(self._fields)

    def __dealloc__(self):
        if self._spans != NULL:
            PyMem_Free(self._spans)
            self._spans = NULL

    def __reduce__(self):
        return (Message, (self.fields, self._raw, self._invalid))

    # -- internals -------------------------------------------------------------------------
    cdef inline object _value(self, Py_ssize_t i):
        if self._fields is not None:
            return self._fields[i][1]
        cdef Span* s = &self._spans[i]
        return PyBytes_FromStringAndSize(PyBytes_AS_STRING(self._raw) + s.start, s.end - s.start)

    cdef dict _idx(self):
        cdef Py_ssize_t i
        cdef dict idx = self._index
        if idx is None:
            if self._spans != NULL:
                idx = {}
                for i in range(self._n - 1, -1, -1):
                    idx[self._spans[i].tag] = i
            else:
                idx = _first_index(self._fields)
            self._index = idx
        return idx

    cdef Py_ssize_t _find(self, object tag) except -2:
        """Position of the first occurrence of ``tag``, or -1."""
        cdef int overflow = 0
        cdef long long t
        cdef Py_ssize_t i
        cdef uint8_t k
        if self._spans != NULL and type(tag) is int:
            t = PyLong_AsLongLongAndOverflow(tag, &overflow)
            if overflow == 0 and 0 <= t < LOW_TAGS:
                k = self._low[t]
                if k == 0:
                    return -1
                if k != FAR:
                    return k - 1
                for i in range(FAR - 1, self._n):
                    if self._spans[i].tag == t:
                        return i
                return -1  # pragma: no cover - the table only marks tags that occur
        v = self._idx().get(tag)
        return -1 if v is None else <Py_ssize_t>v

    cdef object _required(self, object tag):
        cdef Py_ssize_t i = self._find(tag)
        if i < 0:
            raise KeyError(tag)
        return self._value(i)

    # -- access ----------------------------------------------------------------------------
    @property
    def fields(self):
        """Every field, 8, 9 and 35 first and 10 last for a parsed frame, in wire order."""
        cdef Py_ssize_t i
        cdef list out
        cdef const char* base
        cdef Span* s
        if self._fields is None:
            out = [None] * self._n
            base = PyBytes_AS_STRING(self._raw)
            for i in range(self._n):
                s = &self._spans[i]
                out[i] = (s.tag, PyBytes_FromStringAndSize(base + s.start, s.end - s.start))
            self._fields = out
        return self._fields

    def _span_table(self):
        """The parsed layout as packed native int32 (tag, value start, value end) triples over ``raw``.

        ``None`` when ``fields`` is the truth (given in memory, or materialised and so open to change).
        For the compiled validator (``fixgw_ext._validate``), which reads a frame without building
        ``fields``.
        """
        if self._spans == NULL or self._fields is not None:
            return None
        return PyBytes_FromStringAndSize(<char*>self._spans, self._n * sizeof(Span))

    @property
    def raw(self):
        """The frame as received, or ``None`` for a message built in memory."""
        return self._raw

    @property
    def invalid_field(self):
        """The raw bytes of the first malformed field of a parsed frame (``b"0=x"``), else ``None``."""
        return self._invalid

    @property
    def begin_string(self):
        return self.get(8)

    @property
    def msg_type(self):
        return self.get(35)

    def get(self, tag, default=None):
        """Return the value of the first occurrence of ``tag``, or ``default``."""
        cdef Py_ssize_t i = self._find(tag)
        return default if i < 0 else self._value(i)

    def get_all(self, tag):
        """Return every value of ``tag`` in order."""
        cdef int overflow = 0
        cdef long long t
        cdef Py_ssize_t i
        if self._fields is None and type(tag) is int:
            t = PyLong_AsLongLongAndOverflow(tag, &overflow)
            if overflow:
                return []
            return [self._value(i) for i in range(self._n) if self._spans[i].tag == t]
        return [v for t2, v in self.fields if t2 == tag]

    def __getitem__(self, tag):
        return self._required(tag)

    def __contains__(self, tag):
        return self._find(tag) >= 0

    def __len__(self):
        return self._n

    def __iter__(self):
        return iter(self.fields)

    def __eq__(self, other):
        if not hasattr(other, "fields"):
            return NotImplemented
        return list(self.fields) == list(other.fields)

    def __ne__(self, other):
        if not hasattr(other, "fields"):
            return NotImplemented
        return list(self.fields) != list(other.fields)

    __hash__ = None

    def __repr__(self):
        return _repr(self.fields, self._invalid)

    # -- typed getters ---------------------------------------------------------------------
    def get_int(self, tag):
        """Return the field as ``int`` (FIX int/SeqNum/Length/NumInGroup)."""
        cdef Py_ssize_t i = self._find(tag)
        cdef Span* s
        cdef const unsigned char* p
        cdef Py_ssize_t j, lo, n
        cdef long long acc = 0
        if i < 0:
            raise KeyError(tag)
        if self._fields is None:
            # Plain short numbers without a round trip through Python; the rest by the spec.
            s = &self._spans[i]
            p = <const unsigned char*>PyBytes_AS_STRING(self._raw)
            lo = s.start + 1 if s.end - s.start > 1 and p[s.start] == 45 else s.start
            n = s.end - lo
            if 0 < n <= 18:
                for j in range(lo, s.end):
                    if not _digit(p[j]):
                        break
                    acc = acc * 10 + (p[j] - 48)
                else:
                    return -acc if lo != s.start else acc
        return _as_int(tag, self._value(i))

    def get_decimal(self, tag):
        """Return the field as exact ``Decimal`` (FIX float/Qty/Price/Amt)."""
        cdef Py_ssize_t i = self._find(tag)
        cdef Span* s
        cdef const unsigned char* p
        cdef Py_ssize_t j, lo, digits = 0, dots = 0
        if i < 0:
            raise KeyError(tag)
        if self._fields is None:
            # A plain FIX float (-?digits[.digits], a digit somewhere) read in place; the rest by the spec.
            s = &self._spans[i]
            p = <const unsigned char*>PyBytes_AS_STRING(self._raw)
            lo = s.start + 1 if s.end > s.start and p[s.start] == 45 else s.start
            for j in range(lo, s.end):
                if _digit(p[j]):
                    digits += 1
                elif p[j] == 46 and dots == 0:
                    dots = 1
                else:
                    digits = 0
                    break
            if digits:
                return _DecimalType(PyUnicode_DecodeASCII(<const char*>p + s.start, s.end - s.start, NULL))
        return _as_decimal(tag, self._value(i))

    def get_str(self, tag, encoding="utf-8"):
        """Return the field decoded as text."""
        return _as_str(tag, self._required(tag), encoding)

    def get_bool(self, tag):
        """Return a FIX Boolean (``Y``/``N``)."""
        return _as_bool(tag, self._required(tag))

    def get_char(self, tag):
        """Return a single-character field (a char enum)."""
        return _as_char(tag, self._required(tag))

    def get_utc_ns(self, tag):
        """Return a UTCTimestamp (``YYYYMMDD-HH:MM:SS[.sss[sss[sss]]]``) as UTC epoch nanoseconds."""
        return _as_utc_ns(tag, self._required(tag))

    def group(self, count_tag, dictionary=None, msg_type=None):
        """Return the instances of the repeating group started by the first ``count_tag``."""
        cdef Py_ssize_t start
        members = None
        if dictionary is not None:
            members = dictionary.group_members(msg_type or self.msg_type or b"", count_tag)
        start = self._find(count_tag)
        if start < 0:
            return []
        return _group(self.fields, start, members, Message)


cdef Message _parsed(bytes raw, const Span* spans, Py_ssize_t n, object invalid):
    cdef Message m = Message.__new__(Message)
    cdef Py_ssize_t i
    cdef int32_t t
    m._raw = raw
    m._invalid = invalid
    m._n = n
    m._spans = <Span*>PyMem_Malloc(n * sizeof(Span))
    if m._spans == NULL:
        raise MemoryError()
    memcpy(m._spans, spans, n * sizeof(Span))
    memset(m._low, 0, LOW_TAGS)
    for i in range(n):
        t = spans[i].tag
        if 0 <= t < LOW_TAGS and m._low[t] == 0:
            m._low[t] = <uint8_t>(i + 1 if i < FAR - 1 else FAR)
    return m


# -- Parser ---------------------------------------------------------------------------------------
@cython.final
cdef class Parser:
    """Streaming FIX framer: ``feed`` bytes, iterate to get ``Message`` and ``Garbled`` items."""

    cdef unsigned char* _buf
    cdef Py_ssize_t _cap
    cdef Py_ssize_t _len
    cdef Py_ssize_t _pos
    cdef Py_ssize_t _max_body
    cdef object _garbled         # reason for dropping the frame at _pos, until resync
    cdef Py_ssize_t _scan        # offset from _pos where the search for the next "8=FIX" resumes
    cdef Span* _spans            # scratch for the fields of the frame being split
    cdef Py_ssize_t _spans_cap
    cdef int32_t _dlow[LOW_DATA] # length tag -> data tag (0: not a length tag)
    cdef dict _dhigh             # the same for length tags >= LOW_DATA
    cdef readonly dict _data_tags

    def __cinit__(self):
        self._buf = NULL
        self._spans = NULL

    def __init__(self, data_tags=None, max_body_length=_spec.MAX_BODY_LENGTH):
        cdef dict tags = _check_data_tags(_spec.DEFAULT_DATA_TAGS if data_tags is None else data_tags)
        self._data_tags = tags
        self._max_body = max_body_length
        self._garbled = None
        self._scan = 0
        self._len = 0
        self._pos = 0
        memset(self._dlow, 0, sizeof(self._dlow))
        self._dhigh = {}
        for k, v in tags.items():
            if v >= 2 ** 31:
                continue  # tags have at most 9 digits: such a data tag never occurs
            if k < LOW_DATA:
                self._dlow[<Py_ssize_t>k] = <int32_t>v
            else:
                self._dhigh[k] = v
        if self._spans == NULL:
            self._spans_cap = 64
            self._spans = <Span*>PyMem_Malloc(self._spans_cap * sizeof(Span))
            if self._spans == NULL:
                raise MemoryError()

    def __dealloc__(self):
        PyMem_Free(self._buf)
        PyMem_Free(self._spans)

    def feed(self, data):
        """Append received bytes."""
        cdef Py_buffer view
        cdef Py_ssize_t need, cap
        cdef unsigned char* nb
        PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
        try:
            if self._pos and self._pos * 2 >= self._len:
                memmove(self._buf, self._buf + self._pos, self._len - self._pos)
                self._len -= self._pos
                self._pos = 0
            need = self._len + view.len
            if need > self._cap:
                cap = self._cap * 2 if self._cap else 8192
                if cap < need:
                    cap = need
                nb = <unsigned char*>PyMem_Realloc(self._buf, cap)
                if nb == NULL:
                    raise MemoryError()
                self._buf = nb
                self._cap = cap
            if view.len:
                memcpy(self._buf + self._len, view.buf, view.len)
            self._len = need
        finally:
            PyBuffer_Release(&view)

    @property
    def buffered(self):
        """Bytes received but not yet framed."""
        return self._len - self._pos

    def next_event(self):
        """Return the next complete item, or ``NEED_MORE``."""
        return self._frame_at()

    def __iter__(self):
        return self

    def __next__(self):
        item = self._frame_at()
        if item is _NEED_MORE:
            raise StopIteration
        return item

    cdef object _garble(self, str reason):
        self._garbled = reason
        self._scan = 1
        return self._resync()

    cdef object _resync(self):
        cdef Py_ssize_t n = self._len, start = self._pos
        cdef Py_ssize_t limit = start + MAX_GARBLED
        cdef Py_ssize_t hi = n if n < limit + 5 else limit + 5
        cdef Py_ssize_t cut = _find_begin(self._buf, start + self._scan, hi)
        if cut < 0:
            if n < limit + 5:
                if n - start - 4 > self._scan:
                    self._scan = n - start - 4
                return _NEED_MORE
            cut = limit
        reason = self._garbled
        self._garbled = None
        self._scan = 0
        self._pos = cut
        return _Garbled(reason, PyBytes_FromStringAndSize(<char*>self._buf + start, cut - start))

    cdef inline int _data_tag(self, int32_t tag) except -1:
        if tag < LOW_DATA:
            return self._dlow[tag]
        if not self._dhigh:
            return 0
        v = self._dhigh.get(tag)
        return 0 if v is None else <int>v

    cdef object _frame_at(self):
        cdef const unsigned char* b = self._buf
        cdef Py_ssize_t n = self._len, start = self._pos
        cdef Py_ssize_t i, lim, p, soh1, soh2, body_len, body_start, body_end, frame_end
        cdef unsigned int total
        cdef int cks
        if self._garbled is not None:
            return self._resync()
        if start >= n:
            return _NEED_MORE
        if b[start] != 56:  # '8'
            return self._garble(R_DATA_BEFORE)
        if n - start < 2:
            return _NEED_MORE
        if b[start + 1] != 61:  # '='
            return self._garble(R_FIRST_NOT_8)
        soh1 = _find_byte(b, start + 2, min(n, start + 34), SOH)
        if soh1 < 0:
            lim = min(n, start + 5)
            for i in range(start + 2, lim):
                if b[i] != (<const unsigned char*>b"8=FIX")[i - start]:
                    return self._garble(R_NOT_FIX)
            if n - start >= 34:
                return self._garble(R_BEGIN_LONG)
            return _NEED_MORE
        if soh1 - start < 5 or memcmp(b + start + 2, b"FIX", 3) != 0:
            return self._garble(R_NOT_FIX)
        p = soh1 + 1
        if n - p < 2:
            return _NEED_MORE
        if b[p] != 57 or b[p + 1] != 61:  # '9='
            return self._garble(R_SECOND_NOT_9)
        soh2 = _find_byte(b, p + 2, min(n, p + 10), SOH)
        if soh2 < 0:
            lim = min(n, p + 10)
            for i in range(p + 2, lim):
                if not _digit(b[i]):
                    return self._garble(R_LEN_NAN)
            if n - p >= 10:
                return self._garble(R_LEN_LONG)
            return _NEED_MORE
        if soh2 == p + 2:
            return self._garble(R_LEN_NAN)
        body_len = 0
        for i in range(p + 2, soh2):
            if not _digit(b[i]):
                return self._garble(R_LEN_NAN)
            body_len = body_len * 10 + (b[i] - 48)
        if body_len > self._max_body:
            return self._garble(R_LEN_LARGE)
        body_start = soh2 + 1
        body_end = body_start + body_len
        frame_end = body_end + 7
        if n < frame_end:
            return _NEED_MORE
        if memcmp(b + body_end, b"10=", 3) != 0 or b[frame_end - 1] != SOH:
            return self._garble(R_LEN_WRONG)
        if not (_digit(b[body_end + 3]) and _digit(b[body_end + 4]) and _digit(b[body_end + 5])):
            return self._garble(R_CKS_DIGITS)
        cks = (b[body_end + 3] - 48) * 100 + (b[body_end + 4] - 48) * 10 + (b[body_end + 5] - 48)
        total = 0
        for i in range(start, body_end):
            total += b[i]
        if <int>(total & 0xFF) != cks:
            return self._garble(R_CKS_MISMATCH)
        return self._split(start, soh1, p, soh2, body_end, frame_end)

    cdef object _split(self, Py_ssize_t start, Py_ssize_t soh1, Py_ssize_t p, Py_ssize_t soh2,
                       Py_ssize_t end, Py_ssize_t frame_end):
        cdef const unsigned char* b = self._buf
        cdef Py_ssize_t pos = soh2 + 1, eq, soh, vend, j, nf = 2, data_len = -1
        cdef int32_t tag, data_tag = -1, dtag
        cdef bint first_bad = False
        cdef object invalid = None
        cdef Span* sp
        while pos < end:
            # Tag: 1-9 digits, no leading zero, then '='. Anything else is a malformed field, kept
            # aside up to its SOH (the spec's order of checks: SOH missing first).
            tag = 0
            eq = pos
            while eq < end and _digit(b[eq]) and eq - pos < MAX_TAG_DIGITS:
                tag = tag * 10 + (b[eq] - 48)
                eq += 1
            if not (eq < end and b[eq] == 61 and eq > pos and b[pos] != 48):
                soh = _find_byte(b, pos, end, SOH)
                if soh < 0:
                    return self._garble(R_NO_SOH)
                if invalid is None:
                    invalid = PyBytes_FromStringAndSize(<char*>b + pos, soh - pos)
                    first_bad = pos == soh2 + 1
                data_len = -1
                pos = soh + 1
                continue
            if data_len >= 0 and tag == data_tag:
                vend = eq + 1 + data_len
                if vend >= end or b[vend] != SOH:
                    return self._garble(R_DATA_LEN)
            else:
                vend = _find_byte(b, eq + 1, end, SOH)
                if vend < 0:
                    return self._garble(R_NO_SOH)
            data_len = -1
            if nf + 2 > self._spans_cap:
                self._grow_spans()
            sp = &self._spans[nf]
            sp.tag = tag
            sp.start = <int32_t>(eq + 1 - start)
            sp.end = <int32_t>(vend - start)
            nf += 1
            dtag = self._data_tag(tag)
            if dtag != 0 and vend > eq + 1:
                data_len = 0
                for j in range(eq + 1, vend):
                    if not _digit(b[j]):
                        data_len = -1
                        break
                    if data_len < (1 << 40):
                        data_len = data_len * 10 + (b[j] - 48)
                if data_len >= 0:
                    data_tag = dtag
            pos = vend + 1
        if first_bad or nf == 2 or self._spans[2].tag != 35:
            return self._garble(R_THIRD_NOT_35)
        sp = self._spans
        sp[0].tag = 8
        sp[0].start = 2
        sp[0].end = <int32_t>(soh1 - start)
        sp[1].tag = 9
        sp[1].start = <int32_t>(p + 2 - start)
        sp[1].end = <int32_t>(soh2 - start)
        sp[nf].tag = 10
        sp[nf].start = <int32_t>(end + 3 - start)
        sp[nf].end = <int32_t>(frame_end - 1 - start)
        raw = PyBytes_FromStringAndSize(<char*>b + start, frame_end - start)
        self._pos = frame_end
        return _parsed(raw, sp, nf + 1, invalid)

    cdef int _grow_spans(self) except -1:
        cdef Py_ssize_t cap = self._spans_cap * 2
        cdef Span* ns = <Span*>PyMem_Realloc(self._spans, cap * sizeof(Span))
        if ns == NULL:
            raise MemoryError()
        self._spans = ns
        self._spans_cap = cap
        return 0


# -- encoder --------------------------------------------------------------------------------------
cdef struct Out:
    char* p
    Py_ssize_t len
    Py_ssize_t cap
    bint heap


cdef int _reserve(Out* o, Py_ssize_t extra) except -1:
    cdef Py_ssize_t cap
    cdef char* np
    if o.len + extra <= o.cap:
        return 0
    cap = o.cap * 2
    if cap < o.len + extra:
        cap = o.len + extra
    if o.heap:
        np = <char*>PyMem_Realloc(o.p, cap)
    else:
        np = <char*>PyMem_Malloc(cap)
        if np != NULL:
            memcpy(np, o.p, o.len)
    if np == NULL:
        raise MemoryError()
    o.p = np
    o.cap = cap
    o.heap = True
    return 0


cdef inline int _put(Out* o, const char* s, Py_ssize_t n) except -1:
    if o.len + n > o.cap:
        _reserve(o, n)
    memcpy(o.p + o.len, s, n)
    o.len += n
    return 0


cdef inline int _put_int(Out* o, long long v) except -1:
    cdef char tmp[24]
    cdef int k = 24
    cdef bint neg = v < 0
    cdef unsigned long long u = <unsigned long long>(-v) if neg else <unsigned long long>v
    while True:
        k -= 1
        tmp[k] = <char>(48 + u % 10)
        u //= 10
        if u == 0:
            break
    if neg:
        k -= 1
        tmp[k] = 45
    return _put(o, tmp + k, 24 - k)


cdef int _put_bytes(Out* o, object v) except -1:
    if type(v) is not bytes:
        v = bytes(v)
    return _put(o, PyBytes_AS_STRING(v), PyBytes_GET_SIZE(v))


cdef int _put_str(Out* o, str s) except -1:
    cdef Py_ssize_t n
    cdef const char* u = PyUnicode_AsUTF8AndSize(s, &n)
    return _put(o, u, n)


cdef int _put_decimal(Out* o, object d) except -1:
    # str() writes plain notation whenever no exponent is needed, and then agrees with format 'f'.
    cdef str s = str(d)
    cdef Py_ssize_t n, i
    cdef const char* u = PyUnicode_AsUTF8AndSize(s, &n)
    for i in range(n):
        if not (_digit(u[i]) or u[i] == 46 or u[i] == 45):
            return _put_bytes(o, _format_decimal(d))
    if n == 2 and u[0] == 45 and u[1] == 48:
        return _put(o, b"0", 1)
    return _put(o, u, n)


cdef int _put_value(Out* o, object value) except -1:
    cdef type t = type(value)
    cdef int overflow = 0
    cdef long long v
    if t is bytes:
        return _put(o, PyBytes_AS_STRING(value), PyBytes_GET_SIZE(value))
    if t is str:
        return _put_str(o, value)
    if t is int:
        v = PyLong_AsLongLongAndOverflow(value, &overflow)
        if overflow == 0:
            return _put_int(o, v)
        return _put_bytes(o, b"%d" % value)
    if t is bool:
        if value:
            return _put(o, b"Y", 1)
        return _put(o, b"N", 1)
    if t is _DecimalType:
        return _put_decimal(o, value)
    return _put_bytes(o, _encode_value(value))


def encode(begin_string, msg_type, fields):
    """Encode one message: ``8``, ``9``, ``35`` first, then ``fields`` in order, then ``10``."""
    cdef char stack[2048]
    cdef Out o
    cdef Py_ssize_t head_room, body_start, head_len, i
    cdef char head[32]
    cdef Out h
    cdef long long t
    cdef int overflow = 0
    cdef unsigned int total = 0
    cdef char trailer[7]
    if type(begin_string) is str:
        begin_string = begin_string.encode("ascii")
    if type(msg_type) is str:
        msg_type = msg_type.encode("ascii")
    if type(begin_string) is not bytes or type(msg_type) is not bytes:
        return _py_encode(begin_string, msg_type, fields)
    head_room = PyBytes_GET_SIZE(begin_string) + 32
    o.p = stack
    o.len = 0
    o.cap = sizeof(stack)
    o.heap = False
    try:
        _reserve(&o, head_room)
        o.len = head_room
        _put(&o, b"35=", 3)
        _put(&o, PyBytes_AS_STRING(msg_type), PyBytes_GET_SIZE(msg_type))
        _put(&o, b"\x01", 1)
        for item in fields:
            if type(item) is tuple and PyTuple_GET_SIZE(item) == 2:
                tag = <object>PyTuple_GET_ITEM(item, 0)
                value = <object>PyTuple_GET_ITEM(item, 1)
            else:
                tag, value = item
            if type(tag) is int:
                t = PyLong_AsLongLongAndOverflow(tag, &overflow)
                if overflow == 0:
                    if t == 8 or t == 9 or t == 35 or t == 10:
                        continue
                    _put_int(&o, t)
                    _put(&o, b"=", 1)
                else:
                    _put_bytes(&o, b"%d=" % tag)
            else:
                if tag == 8 or tag == 9 or tag == 35 or tag == 10:
                    continue
                _put_bytes(&o, b"%d=" % tag)
            _put_value(&o, value)
            _put(&o, b"\x01", 1)
        # Header "8=<begin>SOH9=<len>SOH", written right before the body.
        h.p = head
        h.len = 0
        h.cap = sizeof(head)
        h.heap = False
        _put(&h, b"\x019=", 3)
        _put_int(&h, o.len - head_room)
        _put(&h, b"\x01", 1)
        head_len = PyBytes_GET_SIZE(begin_string) + 2 + h.len
        body_start = head_room - head_len
        memcpy(o.p + body_start, b"8=", 2)
        memcpy(o.p + body_start + 2, PyBytes_AS_STRING(begin_string), PyBytes_GET_SIZE(begin_string))
        memcpy(o.p + head_room - h.len, h.p, h.len)
        for i in range(body_start, o.len):
            total += <unsigned char>o.p[i]
        total &= 0xFF
        trailer[0] = 49
        trailer[1] = 48
        trailer[2] = 61
        trailer[3] = <char>(48 + total // 100)
        trailer[4] = <char>(48 + (total // 10) % 10)
        trailer[5] = <char>(48 + total % 10)
        trailer[6] = 1
        _put(&o, trailer, 7)
        return PyBytes_FromStringAndSize(o.p + body_start, o.len - body_start)
    finally:
        if o.heap:
            PyMem_Free(o.p)
