# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled twin of the field walker in ``fixgw/codec/_validate.py``: it only says whether a message passes.

``Validator(dictionary).passes(msg, skip_from, allow_unknown)`` returns True exactly when the pure
``Dictionary.validate`` would return without raising; on False the caller runs the pure walker, which
finds and words the reason. So the compiled side never builds an error, and a doubt (a value type it
does not know, an odd field list) is simply a False. Every verdict, text included, stays the pure one.

Tables (built once per dictionary, all C arrays indexed by tag below ``ntags`` = 1 + the highest tag
the dictionary names anywhere):

* per tag: the value check kind (``make_checker`` reduced to "accepts or not"), a 256-bit map of its
  one-byte enum values and a range of its longer ones in one blob;
* per message type: ``top[tag]`` = section | (group id + 1) << 2, or ``T_NONE`` / ``T_INNER`` for a tag
  outside the top level (``T_INNER``: somewhere in one of its groups); the required tags;
* per group: count tag, delimiter, a member bitmap, nested (tag, group) pairs and the required tags.

"Seen" sets are rows of stamps (one row per group nesting level): a tag is seen in the current scope
when its stamp equals the scope's, and a new scope takes a fresh stamp, so nothing is cleared per call.
A parsed compiled ``Message`` is read through ``_span_table()`` (packed int32 triples over ``raw``),
which keeps its ``fields`` list unbuilt; any other message through ``fields``.
"""

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.long cimport PyLong_AsLongLongAndOverflow
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from libc.stdint cimport int16_t, int32_t, uint8_t, uint32_t
from libc.string cimport memcmp, memset

from fixgw.codec import _validate as _spec
from fixgw_ext._codec import Message as _CompiledMessage

__all__ = ["Validator"]

cdef enum:
    K_ANY = 0        # any non-empty value
    K_INT
    K_UNSIGNED
    K_DAYOFMONTH
    K_FLOAT
    K_CHAR
    K_BOOL
    K_TIMESTAMP
    K_TIMEONLY
    K_DATE
    K_MONTHYEAR
    K_ENUM           # value is one of the enums (typed or not: a typed miss is a reject either way)
    K_MULTI          # value, or each space-separated token, is one of the enums
    K_UNSURE         # a format this module does not know: always left to the pure walker

    T_NONE = -1      # top[] : not a top-level tag, nowhere in the message
    T_INNER = -2     # top[] : not a top-level tag, but a member of one of the message's groups
    STACK_FIELDS = 96
    MAX_TAGS = 1 << 20


cdef struct Fld:
    int32_t tag
    int32_t len
    const unsigned char* p


cdef struct Span:             # the layout of fixgw_ext._codec's Span (Message._span_table)
    int32_t tag
    int32_t start
    int32_t end


cdef struct Group:
    int32_t count_tag
    int32_t delimiter
    int32_t nest_lo, nest_hi  # nested (tag, group) pairs in _nest_tag / _nest_gid
    int32_t req_lo, req_hi    # required tags in _greq


cdef struct Walk:             # one call's state
    const Fld* f
    Py_ssize_t n
    uint32_t* seen            # rows of ntags stamps


# -- value checks ---------------------------------------------------------------------------------------
cdef inline bint _digits(const unsigned char* p, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    if n <= 0:
        return False
    for i in range(n):
        if <unsigned char>(p[i] - 48) >= 10:
            return False
    return True


cdef inline int _num(const unsigned char* p, Py_ssize_t n) noexcept nogil:
    cdef int v = 0
    cdef Py_ssize_t i
    for i in range(n):
        v = v * 10 + (p[i] - 48)
    return v


cdef inline int _month_days(int y, int m) noexcept nogil:
    if m == 2:
        return 29 if (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)) else 28
    if m == 4 or m == 6 or m == 9 or m == 11:
        return 30
    return 31


cdef bint _is_date(const unsigned char* p, Py_ssize_t n) noexcept nogil:
    cdef int y, m, d
    if n != 8 or not _digits(p, 8):
        return False
    y = _num(p, 4)
    m = _num(p + 4, 2)
    d = _num(p + 6, 2)
    return 1 <= m <= 12 and 1 <= d <= _month_days(y, m)


cdef bint _is_float(const unsigned char* p, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i = 0, whole = 0, frac = 0
    cdef bint dot = False
    if n > 0 and p[0] == 45:
        i = 1
    while i < n and <unsigned char>(p[i] - 48) < 10:
        whole += 1
        i += 1
    if i < n and p[i] == 46:
        dot = True
        i += 1
        while i < n and <unsigned char>(p[i] - 48) < 10:
            frac += 1
            i += 1
    if i != n:
        return False
    return whole > 0 or (dot and frac > 0)


cdef bint _is_fraction(const unsigned char* p, Py_ssize_t n) noexcept nogil:
    # "" or "." followed by 3, 6 or 9 digits
    if n == 0:
        return True
    return p[0] == 46 and (n == 4 or n == 7 or n == 10) and _digits(p + 1, n - 1)


cdef bint _is_time(const unsigned char* p, Py_ssize_t n) noexcept nogil:
    # ([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]{3}|\.[0-9]{6}|\.[0-9]{9})?
    if n < 8 or p[2] != 58 or p[5] != 58:
        return False
    if not (_digits(p, 2) and _digits(p + 3, 2) and _digits(p + 6, 2)):
        return False
    if _num(p, 2) > 23 or p[3] > 53:
        return False
    if not (p[6] <= 53 or (p[6] == 54 and p[7] == 48)):
        return False
    return _is_fraction(p + 8, n - 8)


cdef bint _is_timestamp(const unsigned char* p, Py_ssize_t n) noexcept nogil:
    # fixgw.codec._timefmt.parse_utc_timestamp(v) is not None
    cdef int y, mo, d
    if n < 17 or p[8] != 45 or p[11] != 58 or p[14] != 58:
        return False
    if not (_digits(p, 8) and _digits(p + 9, 2) and _digits(p + 12, 2) and _digits(p + 15, 2)):
        return False
    if not _is_fraction(p + 17, n - 17):
        return False
    y = _num(p, 4)
    mo = _num(p + 4, 2)
    d = _num(p + 6, 2)
    return (y >= 1 and 1 <= mo <= 12 and 1 <= d <= _month_days(y, mo) and _num(p + 9, 2) < 24
            and _num(p + 12, 2) < 60 and _num(p + 15, 2) <= 60)


cdef bint _is_month_year(const unsigned char* p, Py_ssize_t n) noexcept nogil:
    cdef int m
    if n < 6 or not _digits(p, 6):
        return False
    m = _num(p + 4, 2)
    if not 1 <= m <= 12:
        return False
    if n == 6:
        return True
    if n == 8 and p[6] == 119:  # "w"
        return 49 <= p[7] <= 53
    return _is_date(p, n)


# -- the validator --------------------------------------------------------------------------------------
@cython.final
cdef class Validator:
    """Accept-only twin of ``Dictionary.validate`` for one dictionary; see the module docstring."""

    cdef int32_t _ntags
    cdef int32_t _rows             # group nesting levels + 1
    cdef uint8_t* _kind            # [ntags]
    cdef uint8_t* _known           # [ntags] tag is a field of the dictionary
    cdef uint8_t* _enum1           # [ntags * 32] bitmap of one-byte enum values
    cdef int32_t* _enum_lo         # [ntags] range of longer enum values in _eoff/_elen
    cdef int32_t* _enum_hi
    cdef int32_t* _eoff
    cdef int32_t* _elen
    cdef bytes _eblob
    cdef int16_t* _tops            # [nmsg * ntags]
    cdef int32_t* _req             # required tags of every message, by _req_lo/_req_hi
    cdef int32_t* _req_lo
    cdef int32_t* _req_hi
    cdef Group* _groups
    cdef uint8_t* _gmember         # [ngroups * (ntags / 8 + 1)] member bitmaps
    cdef Py_ssize_t _gstride
    cdef int32_t* _nest_tag
    cdef int32_t* _nest_gid
    cdef int32_t* _greq
    cdef uint32_t* _seen           # [rows * ntags] stamps
    cdef public uint32_t _stamp    # last stamp given; public so a test can start it near wrap-around
    cdef int16_t _mt1[256]         # one-byte MsgType -> message index, -1 unknown
    cdef dict _mt_long             # longer MsgType -> message index

    def __cinit__(self):
        self._kind = NULL
        self._known = NULL
        self._enum1 = NULL
        self._enum_lo = NULL
        self._enum_hi = NULL
        self._eoff = NULL
        self._elen = NULL
        self._tops = NULL
        self._req = NULL
        self._req_lo = NULL
        self._req_hi = NULL
        self._groups = NULL
        self._gmember = NULL
        self._nest_tag = NULL
        self._nest_gid = NULL
        self._greq = NULL
        self._seen = NULL

    def __dealloc__(self):
        PyMem_Free(self._kind)
        PyMem_Free(self._known)
        PyMem_Free(self._enum1)
        PyMem_Free(self._enum_lo)
        PyMem_Free(self._enum_hi)
        PyMem_Free(self._eoff)
        PyMem_Free(self._elen)
        PyMem_Free(self._tops)
        PyMem_Free(self._req)
        PyMem_Free(self._req_lo)
        PyMem_Free(self._req_hi)
        PyMem_Free(self._groups)
        PyMem_Free(self._gmember)
        PyMem_Free(self._nest_tag)
        PyMem_Free(self._nest_gid)
        PyMem_Free(self._greq)
        PyMem_Free(self._seen)

    def __init__(self, dictionary):
        messages = list(dictionary.message_types.values())
        fields = dictionary.fields
        # Every group of every message, numbered once each (header groups are shared objects).
        gids = {}
        order = []
        depth_of = {}

        def number(g, depth):
            if id(g) not in gids:
                gids[id(g)] = len(order)
                order.append(g)
                depth_of[id(g)] = depth
            depth_of[id(g)] = max(depth, depth_of[id(g)])
            for m in g.members:
                if m.group is not None:
                    number(m.group, depth + 1)

        highest = max(fields) if fields else 0
        for mdef in messages:
            for tag, (section, group) in mdef.top.items():
                highest = max(highest, tag)
                if group is not None:
                    number(group, 1)
            if mdef.all_tags:
                highest = max(highest, max(mdef.all_tags))
        if highest < 35 or highest >= MAX_TAGS or len(order) >= 8000 or len(messages) >= 30000:
            raise ValueError("dictionary too large for the compiled validator")
        self._ntags = ntags = highest + 1
        self._rows = 1 + max(depth_of.values(), default=0)
        self._build_fields(fields, ntags)
        self._build_messages(messages, ntags, gids)
        self._build_groups(order, ntags, gids)
        self._seen = <uint32_t*>self._alloc(self._rows * ntags * sizeof(uint32_t))
        self._stamp = 0

    cdef void* _alloc(self, Py_ssize_t size) except NULL:
        cdef void* p = PyMem_Malloc(size if size > 0 else 1)
        if p == NULL:
            raise MemoryError()
        memset(p, 0, size if size > 0 else 1)
        return p

    cdef int _build_fields(self, fields, int32_t ntags) except -1:
        cdef Py_ssize_t t
        cdef bytes e
        kinds = {
            _spec._is_int: K_INT,
            _spec._is_unsigned: K_UNSIGNED,
            _spec._is_day_of_month: K_DAYOFMONTH,
            _spec._is_float: K_FLOAT,
            _spec._is_char: K_CHAR,
            _spec._is_bool: K_BOOL,
            _spec._is_utc_timestamp: K_TIMESTAMP,
            _spec._is_time: K_TIMEONLY,
            _spec._is_date: K_DATE,
            _spec._is_month_year: K_MONTHYEAR,
        }
        self._kind = <uint8_t*>self._alloc(ntags)
        self._known = <uint8_t*>self._alloc(ntags)
        self._enum1 = <uint8_t*>self._alloc(ntags * 32)
        self._enum_lo = <int32_t*>self._alloc(ntags * sizeof(int32_t))
        self._enum_hi = <int32_t*>self._alloc(ntags * sizeof(int32_t))
        longer = []
        for tag, fdef in fields.items():
            if not 0 <= tag < ntags:
                continue
            t = tag
            self._known[t] = 1
            enums = [bytes(x) for x in fdef.values]
            fmt = _spec.FORMATS.get(fdef.type)
            if enums:
                self._kind[t] = K_MULTI if fdef.type in _spec._MULTI_VALUE_TYPES else K_ENUM
                self._enum_lo[t] = len(longer)
                for e in enums:
                    if len(e) == 1:
                        self._enum1[t * 32 + (e[0] >> 3)] |= 1 << (e[0] & 7)
                    else:
                        longer.append(e)
                self._enum_hi[t] = len(longer)
            elif fmt is None:
                self._kind[t] = K_ANY
            else:
                self._kind[t] = kinds.get(fmt, K_UNSURE)
        for tag in (8, 9, 35):  # checked by validate() itself, as in the pure dictionary
            if tag < ntags:
                self._kind[tag] = K_ANY
        self._eblob = b"".join(longer)
        self._eoff = <int32_t*>self._alloc(len(longer) * sizeof(int32_t))
        self._elen = <int32_t*>self._alloc(len(longer) * sizeof(int32_t))
        off = 0
        for t, e in enumerate(longer):
            self._eoff[t] = off
            self._elen[t] = len(e)
            off += len(e)
        return 0

    cdef int _build_messages(self, messages, int32_t ntags, dict gids) except -1:
        cdef Py_ssize_t k, t, base
        cdef int16_t* top
        self._tops = <int16_t*>self._alloc(len(messages) * ntags * sizeof(int16_t))
        self._req_lo = <int32_t*>self._alloc(len(messages) * sizeof(int32_t))
        self._req_hi = <int32_t*>self._alloc(len(messages) * sizeof(int32_t))
        self._req = <int32_t*>self._alloc(sum(len(m.required_all) for m in messages) * sizeof(int32_t))
        for k in range(256):
            self._mt1[k] = -1
        self._mt_long = {}
        base = 0
        for k, mdef in enumerate(messages):
            mt = bytes(mdef.msg_type)
            if len(mt) == 1:
                self._mt1[mt[0]] = <int16_t>k
            else:
                self._mt_long[mt] = k
            top = self._tops + k * ntags
            for t in range(ntags):
                top[t] = T_NONE
            for t in mdef.all_tags:
                if 0 <= t < ntags:
                    top[t] = T_INNER
            for tag, (section, group) in mdef.top.items():
                if not 0 <= tag < ntags:
                    continue
                gid = -1 if group is None else gids[id(group)]
                top[<Py_ssize_t>tag] = <int16_t>(section | ((gid + 1) << 2))
            self._req_lo[k] = <int32_t>base
            for tag in mdef.required_all:
                self._req[base] = tag
                base += 1
            self._req_hi[k] = <int32_t>base
        return 0

    cdef int _build_groups(self, list order, int32_t ntags, dict gids) except -1:
        cdef Py_ssize_t k, nn = 0, nr = 0
        cdef Group* g
        self._gstride = ntags // 8 + 1
        self._groups = <Group*>self._alloc(len(order) * sizeof(Group))
        self._gmember = <uint8_t*>self._alloc(len(order) * self._gstride)
        nests = sum(1 for g_ in order for m in g_.members if m.group is not None)
        self._nest_tag = <int32_t*>self._alloc(nests * sizeof(int32_t))
        self._nest_gid = <int32_t*>self._alloc(nests * sizeof(int32_t))
        self._greq = <int32_t*>self._alloc(sum(len(g_.required) for g_ in order) * sizeof(int32_t))
        for k, gdef in enumerate(order):
            g = &self._groups[k]
            g.count_tag = gdef.count_tag
            g.delimiter = gdef.delimiter
            for tag in gdef.fields:
                if 0 <= tag < ntags:
                    self._gmember[k * self._gstride + (tag >> 3)] |= 1 << (tag & 7)
            g.nest_lo = <int32_t>nn
            for tag, inner in gdef.fields.items():
                if inner is not None:
                    self._nest_tag[nn] = tag
                    self._nest_gid[nn] = gids[id(inner)]
                    nn += 1
            g.nest_hi = <int32_t>nn
            g.req_lo = <int32_t>nr
            for tag in gdef.required:
                self._greq[nr] = tag
                nr += 1
            g.req_hi = <int32_t>nr
        return 0

    # -- checks ------------------------------------------------------------------------------------
    cdef inline uint32_t _fresh(self) noexcept:
        """A stamp no scope has used yet (``_walk`` restarts them before they could wrap around)."""
        self._stamp += 1
        return self._stamp

    cdef bint _in_enums(self, Py_ssize_t t, const unsigned char* p, Py_ssize_t n) noexcept:
        cdef Py_ssize_t k
        cdef const char* blob
        if n == 1:
            return (self._enum1[t * 32 + (p[0] >> 3)] >> (p[0] & 7)) & 1
        blob = PyBytes_AS_STRING(self._eblob)
        for k in range(self._enum_lo[t], self._enum_hi[t]):
            if self._elen[k] == n and memcmp(blob + self._eoff[k], p, n) == 0:
                return True
        return False

    cdef bint _value_ok(self, int32_t tag, const unsigned char* p, Py_ssize_t n) noexcept:
        cdef Py_ssize_t t = tag, i, start
        cdef int kind
        if n == 0:
            return False
        if t >= self._ntags:
            return True
        kind = self._kind[t]
        if kind == K_ANY:
            return True
        if kind == K_ENUM:
            return self._in_enums(t, p, n)
        if kind == K_MULTI:
            if self._in_enums(t, p, n):
                return True
            start = 0
            for i in range(n + 1):
                if i == n or p[i] == 32:
                    if not self._in_enums(t, p + start, i - start):
                        return False
                    start = i + 1
            return True
        if kind == K_UNSIGNED:
            return _digits(p, n)
        if kind == K_INT:
            return _digits(p, n) or (p[0] == 45 and _digits(p + 1, n - 1))
        if kind == K_FLOAT:
            return _is_float(p, n)
        if kind == K_CHAR:
            return n == 1
        if kind == K_BOOL:
            return n == 1 and (p[0] == 89 or p[0] == 78)
        if kind == K_TIMESTAMP:
            return _is_timestamp(p, n)
        if kind == K_TIMEONLY:
            return _is_time(p, n)
        if kind == K_DATE:
            return _is_date(p, n)
        if kind == K_MONTHYEAR:
            return _is_month_year(p, n)
        if kind == K_DAYOFMONTH:
            return n <= 2 and _digits(p, n) and 1 <= _num(p, n) <= 31
        return False  # K_UNSURE

    cdef Py_ssize_t _group(self, Walk* w, Py_ssize_t gid, Py_ssize_t i, Py_ssize_t row) noexcept:
        """Walk the instances of group ``gid`` counted by field ``i``; the next index, or -1 to refuse."""
        cdef const Group* g = &self._groups[gid]
        cdef const Fld* f = w.f
        cdef const uint8_t* member = self._gmember + gid * self._gstride
        cdef uint32_t* seen = w.seen + row * self._ntags
        cdef Py_ssize_t count = 0, instances = 0, k, nested, n = w.n
        cdef uint32_t stamp = 0
        cdef int32_t tag
        if not _digits(f[i].p, f[i].len):
            return -1
        for k in range(f[i].len):
            if count < (1 << 40):
                count = count * 10 + (f[i].p[k] - 48)
        i += 1
        while i < n:
            tag = f[i].tag
            if tag < 0 or tag >= self._ntags or not (member[tag >> 3] >> (tag & 7)) & 1:
                break
            if tag == g.delimiter:
                if instances and not self._has_all(seen, stamp, self._greq + g.req_lo, g.req_hi - g.req_lo):
                    return -1
                instances += 1
                stamp = self._fresh()
            elif not instances:
                if count == 0:
                    break
                return -1
            if seen[tag] == stamp:
                return -1
            seen[tag] = stamp
            if not self._value_ok(tag, f[i].p, f[i].len):
                return -1
            nested = -1
            for k in range(g.nest_lo, g.nest_hi):
                if self._nest_tag[k] == tag:
                    nested = self._nest_gid[k]
                    break
            if nested >= 0:
                if row + 1 >= self._rows:
                    return -1  # deeper than the tables: cannot happen, the rows follow the dictionary
                i = self._group(w, nested, i, row + 1)
                if i < 0:
                    return -1
            else:
                i += 1
        if instances and not self._has_all(seen, stamp, self._greq + g.req_lo, g.req_hi - g.req_lo):
            return -1
        if instances != count:
            return -1
        return i

    cdef inline bint _has_all(self, const uint32_t* seen, uint32_t stamp, const int32_t* tags,
                              Py_ssize_t n) noexcept:
        cdef Py_ssize_t k
        cdef int32_t t
        for k in range(n):
            t = tags[k]
            if t < 0 or t >= self._ntags or seen[t] != stamp:
                return False
        return True

    cdef bint _walk(self, const Fld* f, Py_ssize_t n, Py_ssize_t mi, long long skip_from, bint allow) noexcept:
        """Walk message ``f[:n]`` of message type ``mi`` as ``fixgw.codec._validate.walk`` does."""
        cdef Walk w
        cdef Py_ssize_t i, gid
        cdef int32_t tag
        cdef int phase = 0, section, entry
        cdef uint32_t stamp
        cdef uint32_t* seen = self._seen
        cdef const int16_t* top
        if self._stamp > 0xFFFFFFF0u - <uint32_t>n:
            # Each scope takes one stamp and a message has at most n scopes: restart the stamps now
            # rather than mid-walk, where an old scope's marks would vanish.
            memset(self._seen, 0, self._rows * self._ntags * sizeof(uint32_t))
            self._stamp = 0
        top = self._tops + mi * self._ntags
        w.f = f
        w.n = n
        w.seen = seen
        stamp = self._fresh()
        seen[8] = stamp  # ntags > 35: the header's tags are in every dictionary
        seen[9] = stamp
        seen[35] = stamp
        i = 3
        while i < n:
            tag = f[i].tag
            if skip_from and tag >= skip_from:
                if tag < self._ntags:
                    seen[tag] = stamp
                i += 1
                continue
            if tag <= 0:
                return False
            entry = top[tag] if tag < self._ntags else T_NONE
            if entry < 0:
                # Dictionary._unknown: let through only when allowed, and then not a group member.
                if not allow or (tag < self._ntags and self._known[tag] and entry == T_INNER):
                    return False
                i += 1
                continue
            section = entry & 3
            if section < phase:
                return False
            phase = section
            if seen[tag] == stamp:
                return False
            seen[tag] = stamp
            if not self._value_ok(tag, f[i].p, f[i].len):
                return False
            gid = (entry >> 2) - 1
            if gid >= 0:
                i = self._group(&w, gid, i, 1)
                if i < 0:
                    return False
                continue
            if tag == 10 and i != n - 1:
                return False
            i += 1
        return self._has_all(seen, stamp, self._req + self._req_lo[mi], self._req_hi[mi] - self._req_lo[mi])

    # -- entry point -------------------------------------------------------------------------------
    def passes(self, msg, long long skip_from=0, bint allow_unknown=False):
        """True when ``Dictionary.validate(msg, ...)`` would not raise; False: ask the pure walker.

        ``skip_from``: 0, or the tag from which fields are not checked (``validate_user_defined_fields``
        off); ``allow_unknown``: ``allow_unknown_message_fields``.
        """
        cdef Fld stack[STACK_FIELDS]
        cdef Fld* f = stack
        cdef Py_ssize_t n, i, mi
        cdef const Span* sp
        cdef const unsigned char* base
        cdef bytes table
        cdef list items
        cdef tuple item
        cdef int overflow = 0
        cdef long long t
        table = msg._span_table() if type(msg) is _CompiledMessage else None
        if table is not None:
            raw = msg.raw
            n = PyBytes_GET_SIZE(table) // sizeof(Span)
            sp = <const Span*>PyBytes_AS_STRING(table)
            base = <const unsigned char*>PyBytes_AS_STRING(raw)
        else:
            fields = msg.fields
            items = fields if type(fields) is list else list(fields)
            n = len(items)
        if n > STACK_FIELDS:
            f = <Fld*>PyMem_Malloc(n * sizeof(Fld))
            if f == NULL:
                raise MemoryError()
        try:
            if table is not None:
                for i in range(n):
                    f[i].tag = sp[i].tag
                    f[i].len = sp[i].end - sp[i].start
                    f[i].p = base + sp[i].start
            else:
                for i in range(n):
                    obj = items[i]
                    if type(obj) is not tuple or len(<tuple>obj) != 2:
                        return False
                    item = <tuple>obj
                    if type(item[0]) is not int or type(item[1]) is not bytes:
                        return False
                    t = PyLong_AsLongLongAndOverflow(item[0], &overflow)
                    if overflow or not -(1 << 31) < t < (1 << 31) or PyBytes_GET_SIZE(item[1]) >= (1 << 31):
                        return False
                    f[i].tag = <int32_t>t
                    f[i].len = <int32_t>PyBytes_GET_SIZE(item[1])
                    f[i].p = <const unsigned char*>PyBytes_AS_STRING(item[1])
            if n < 3 or f[0].tag != 8 or f[1].tag != 9 or f[2].tag != 35:
                return False
            if f[2].len == 1:
                mi = self._mt1[f[2].p[0]]
            else:
                v = self._mt_long.get(PyBytes_FromStringAndSize(<const char*>f[2].p, f[2].len))
                mi = -1 if v is None else <Py_ssize_t>v
            if mi < 0:
                return False
            # ``items`` (or ``table`` and ``raw``) keep every value alive while the walk reads it.
            return self._walk(f, n, mi, skip_from, allow_unknown)
        finally:
            if f != stack:
                PyMem_Free(f)
