# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled twin of ``fixgw.translate.outbound.report_fields``: an ExecutionReport's body fields.

The pure function is the specification: this one must return the same list of ``(tag, value)`` for
every input (``tests/translate/test_report_twin.py`` compares them). Every order's reports are written
here, so the branches, the code tables, the decimal-text cache and the TransactTime text are done in
C; what is rare stays the pure modules' own code, called from here: a decimal not yet in the cache
(``wire_text``), a second the timestamp cache has not seen (``format_utc_timestamp``).

This module is in layer 1 and knows nothing of ``fixgw.translate``: ``fixgw.translate.outbound`` hands
it the enum members, code tables and text helpers once (``configure``) and takes ``report_fields``.
"""

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.dict cimport PyDict_GetItem
from cpython.list cimport PyList_Append
from cpython.long cimport PyLong_AsLongLongAndOverflow
from cpython.object cimport PyObject
from libc.string cimport memcpy

__all__ = ["configure", "configure_reply", "report_fields", "reply_for_event"]

cdef object _ORDER_STATUS = None  # ExecKind.ORDER_STATUS
cdef object _REPLACED = None  # ExecKind.REPLACED
cdef object _TRADE = None  # ExecKind.TRADE
cdef object _FILLED = None  # OrderStatus.FILLED
cdef dict _SIDE_CODES = None
cdef dict _ORD_TYPE_CODES = None
cdef dict _TIF_CODES = None
cdef object _wire_text = None  # decimals.wire_text (fills ``_caches``)
cdef tuple _caches = None  # decimals._caches: the text of a decimal per number of places
cdef Py_ssize_t _max_places = 0
cdef object _format_ts = None  # codec.format_utc_timestamp
#: Per version table (by identity, the table kept alive beside): its mappings as plain dicts.
cdef dict _tables = {}

# reply_for_event's collaborators (``configure_reply``): its pure twin answers the rare cases.
cdef object _pure_reply = None
cdef tuple _UNREPORTED = ()
cdef tuple _CANCEL_REJECTS = ()
cdef dict _HINT_KIND = None
cdef object _PENDING_CANCEL = None
cdef object _PENDING_REPLACE = None
cdef object _REJECTED = None
cdef object _FILLED_EVENT = None
cdef object _reject_reason_for_text = None
cdef object _average_price = None
cdef object _ZERO = None
cdef object _DEFAULT_PLACES = None
_UNSET = object()

cdef long long _NS = 1000000000
cdef long long _ts_sec = -1
cdef bytes _ts_prefix = b""


def configure(exec_kinds, order_status_filled, side_codes, ord_type_codes, tif_codes, wire_text, caches,
              max_places, format_utc_timestamp):
    """Hand over what the writer needs from the layers above it (``fixgw.translate.outbound`` does, once).

    ``exec_kinds``: ``(ExecKind.ORDER_STATUS, ExecKind.REPLACED, ExecKind.TRADE)``.
    """
    global _ORDER_STATUS, _REPLACED, _TRADE, _FILLED, _SIDE_CODES, _ORD_TYPE_CODES, _TIF_CODES
    global _wire_text, _caches, _max_places, _format_ts
    _ORDER_STATUS, _REPLACED, _TRADE = exec_kinds
    _FILLED = order_status_filled
    _SIDE_CODES = dict(side_codes)
    _ORD_TYPE_CODES = dict(ord_type_codes)
    _TIF_CODES = dict(tif_codes)
    _wire_text = wire_text
    _caches = tuple(caches)
    _max_places = max_places
    _format_ts = format_utc_timestamp
    _tables.clear()


def configure_reply(pure_reply, unreported, cancel_rejects, hint_kind, pending_kinds, rejected_kind,
                    filled_event, reject_reason_for_text, average_price, zero, default_places):
    """Hand over what ``reply_for_event`` needs (``fixgw.translate.reports`` does, once).

    ``pure_reply``: the pure ``reply_for_event``, which answers cancel/replace rejections.
    ``pending_kinds``: ``(ExecKind.PENDING_CANCEL, ExecKind.PENDING_REPLACE)``.
    """
    global _pure_reply, _UNREPORTED, _CANCEL_REJECTS, _HINT_KIND, _PENDING_CANCEL, _PENDING_REPLACE, _REJECTED
    global _FILLED_EVENT, _reject_reason_for_text, _average_price, _ZERO, _DEFAULT_PLACES
    _pure_reply = pure_reply
    _UNREPORTED = tuple(unreported)
    _CANCEL_REJECTS = tuple(cancel_rejects)
    _HINT_KIND = dict(hint_kind)
    _PENDING_CANCEL, _PENDING_REPLACE = pending_kinds
    _REJECTED = rejected_kind
    _FILLED_EVENT = filled_event
    _reject_reason_for_text = reject_reason_for_text
    _average_price = average_price
    _ZERO = zero
    _DEFAULT_PLACES = default_places


def reply_for_event(table, order, event, client_symbol, *, avg_px_places=_UNSET, reject_reason=None):
    """The message reporting ``event`` just applied to ``order``, exactly as the pure
    ``fixgw.translate.reports.reply_for_event``: ``(b"8", fields)``, a cancel reject, or ``None``."""
    if avg_px_places is _UNSET:
        avg_px_places = _DEFAULT_PLACES
    if _pure_reply is None:
        raise RuntimeError("fixgw_ext._report is not configured (fixgw.translate.reports does it)")
    if isinstance(event, _UNREPORTED):
        return None
    if isinstance(event, _CANCEL_REJECTS):
        return _pure_reply(table, order, event, client_symbol, avg_px_places=avg_px_places,
                           reject_reason=reject_reason)
    cdef PyObject* hit = PyDict_GetItem(_HINT_KIND, event.exec_type)
    if hit == NULL:
        return None
    kind = <object>hit
    cl = orig = last_qty = last_px = None
    if kind is _PENDING_CANCEL or kind is _PENDING_REPLACE:
        # The request is reported under its own ClOrdID, naming the order's current one as the original.
        cl, orig = order.pending_cl_ord_id, order.cl_ord_id
    if isinstance(event, _FILLED_EVENT):
        last_qty, last_px = event.last_qty, event.last_px
    text = getattr(event, "reason", "") or None
    rej = None
    if kind is _REJECTED:
        rej = reject_reason or _reject_reason_for_text(text or "")
    if cl is None:
        cl, orig = order.cl_ord_id, order.orig_cl_ord_id
    cum_qty = order.cum_qty
    status = order.status
    order_id = order.order_id
    exec_id = order.exec_id
    side = order.side
    order_type = order.order_type
    quantity = order.quantity
    price = order.price
    trigger_price = order.trigger_price
    time_in_force = order.time_in_force
    post_only = order.post_only
    leaves_qty = order.leaves_qty
    notional = order.notional
    avg_px = _ZERO if not cum_qty else _average_price(notional, cum_qty, avg_px_places)  # its first test
    return b"8", _fields(
        table, kind, status, order_id, exec_id, cl, orig, client_symbol, side, order_type, quantity, price,
        trigger_price, time_in_force, post_only, last_qty, last_px, leaves_qty, cum_qty, avg_px, avg_px_places,
        event.ts_ns, text, rej, None, None, None, None, None,
    )


cdef tuple _table(object table):
    """(table, exec_type, ord_status, ord_rej_reason, has_exec_trans_type, replaced_ord_status) of ``table``."""
    cdef object key = id(table)
    cdef PyObject* hit = PyDict_GetItem(_tables, key)
    cdef tuple entry
    if hit != NULL:
        entry = <tuple>hit
        if entry[0] is table:
            return entry
    entry = (table, dict(table.exec_type), dict(table.ord_status), dict(table.ord_rej_reason),
             bool(table.has_exec_trans_type), table.replaced_ord_status)
    if len(_tables) >= 16:
        _tables.clear()
    _tables[key] = entry
    return entry


cdef inline object _text(object d, Py_ssize_t places):
    """``wire_text(d, places)``: from its cache when the text is there, else by ``wire_text`` itself."""
    cdef dict cache
    cdef PyObject* hit
    if 0 <= places <= _max_places:
        cache = <dict>_caches[places]
        # PyDict_GetItem answers NULL for a key it cannot hash (a signalling NaN): ``wire_text`` answers it.
        hit = PyDict_GetItem(cache, d)
        if hit != NULL:
            return <object>hit
    return _wire_text(d, places)


cdef object _timestamp(object ns):
    """``format_utc_timestamp(ns)`` (milliseconds): the second's text kept, the fraction written here."""
    global _ts_sec, _ts_prefix
    cdef int overflow = 0
    cdef long long n = PyLong_AsLongLongAndOverflow(ns, &overflow) if type(ns) is int else -1
    cdef long long sec, ms
    cdef bytes out
    cdef char* p
    if overflow or n < 0:
        return _format_ts(ns)
    sec = n // _NS
    if sec != _ts_sec:
        text = _format_ts(ns)
        if PyBytes_GET_SIZE(text) != 21:
            return text
        _ts_prefix = text[:17]
        _ts_sec = sec
        return text
    ms = (n % _NS) // 1000000
    out = PyBytes_FromStringAndSize(NULL, 21)
    p = PyBytes_AS_STRING(out)
    memcpy(p, PyBytes_AS_STRING(_ts_prefix), 17)
    p[17] = b'.'
    p[18] = <char>(48 + ms // 100)
    p[19] = <char>(48 + (ms // 10) % 10)
    p[20] = <char>(48 + ms % 10)
    return out


def report_fields(
    table, kind, status, order_id, exec_id, cl_ord_id, orig_cl_ord_id, symbol, side, order_type, quantity,
    price, stop_price, time_in_force, post_only, last_qty, last_px, leaves_qty, cum_qty, avg_px,
    avg_px_places, transact_time_ns, text=None, ord_rej_reason=None, account=None, ord_status_req_id=None,
    mass_status_req_id=None, tot_num_reports=None, last_rpt_requested=None,
):
    """The body fields of an ExecutionReport, exactly as ``fixgw.translate.outbound.report_fields``."""
    return _fields(table, kind, status, order_id, exec_id, cl_ord_id, orig_cl_ord_id, symbol, side, order_type,
                   quantity, price, stop_price, time_in_force, post_only, last_qty, last_px, leaves_qty, cum_qty,
                   avg_px, avg_px_places, transact_time_ns, text, ord_rej_reason, account, ord_status_req_id,
                   mass_status_req_id, tot_num_reports, last_rpt_requested)


cdef list _fields(
    table, kind, status, order_id, exec_id, cl_ord_id, orig_cl_ord_id, symbol, side, order_type, quantity,
    price, stop_price, time_in_force, post_only, last_qty, last_px, leaves_qty, cum_qty, avg_px,
    avg_px_places, transact_time_ns, text, ord_rej_reason, account, ord_status_req_id,
    mass_status_req_id, tot_num_reports, last_rpt_requested,
):
    cdef tuple t = _table(table)
    cdef dict exec_type = <dict>t[1]
    cdef dict ord_status = <dict>t[2]
    cdef list f = [(37, order_id)]
    cdef PyObject* hit
    cdef Py_ssize_t places
    if _FILLED is None:
        raise RuntimeError("fixgw_ext._report is not configured (fixgw.translate.outbound does it)")
    if cl_ord_id is not None:
        PyList_Append(f, (11, cl_ord_id))
    if orig_cl_ord_id is not None:
        PyList_Append(f, (41, orig_cl_ord_id))
    PyList_Append(f, (17, exec_id))
    if t[4]:
        PyList_Append(f, (20, b"3" if kind is _ORDER_STATUS else b"0"))
    # ExecType: VersionTable.exec_type_for
    if kind is _TRADE and _TRADE not in exec_type:
        code = b"2" if status is _FILLED else b"1"
    elif kind is _ORDER_STATUS and _ORDER_STATUS not in exec_type:
        code = ord_status[status]
    else:
        code = exec_type[kind]
    PyList_Append(f, (150, code))
    if kind is _REPLACED and t[5] is not None:
        PyList_Append(f, (39, t[5]))
    else:
        PyList_Append(f, (39, ord_status[status]))
    if ord_rej_reason is not None:
        PyList_Append(f, (103, (<dict>t[3])[ord_rej_reason]))
    if account is not None:
        PyList_Append(f, (1, account))
    PyList_Append(f, (55, symbol))
    PyList_Append(f, (54, _SIDE_CODES[side]))
    if quantity is not None:
        PyList_Append(f, (38, _text(quantity, _max_places)))
    hit = PyDict_GetItem(_ORD_TYPE_CODES, order_type)  # an enum member or None: always hashable
    if hit != NULL:
        PyList_Append(f, (40, <object>hit))
    if price is not None:
        PyList_Append(f, (44, _text(price, _max_places)))
    if stop_price is not None:
        PyList_Append(f, (99, _text(stop_price, _max_places)))
    hit = PyDict_GetItem(_TIF_CODES, time_in_force)
    if hit != NULL:
        PyList_Append(f, (59, <object>hit))
    if post_only:
        PyList_Append(f, (18, b"6"))
    if last_qty is not None:
        PyList_Append(f, (32, _text(last_qty, _max_places)))
        PyList_Append(f, (31, _text(last_px, _max_places) if last_px is not None else b"0"))
    PyList_Append(f, (151, _text(leaves_qty, _max_places)))
    PyList_Append(f, (14, _text(cum_qty, _max_places)))
    if type(avg_px_places) is int and -1000000 < avg_px_places < 1000000:
        places = avg_px_places
        PyList_Append(f, (6, _text(avg_px, places)))
    else:
        PyList_Append(f, (6, _wire_text(avg_px, avg_px_places)))
    PyList_Append(f, (60, _timestamp(transact_time_ns)))
    if text is not None:
        PyList_Append(f, (58, text))
    if ord_status_req_id is not None:
        PyList_Append(f, (790, ord_status_req_id))
    if mass_status_req_id is not None:
        PyList_Append(f, (584, mass_status_req_id))
    if tot_num_reports is not None:
        PyList_Append(f, (911, tot_num_reports))
    if last_rpt_requested is not None:
        PyList_Append(f, (912, last_rpt_requested))
    return f
