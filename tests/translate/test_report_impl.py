"""The compiled report writer really loaded (unless switched off): a missing build would turn the twin
tests into skips and the gateway would quietly run the pure writer."""

from __future__ import annotations

import os

from fixgw.translate import outbound, reports


def test_report_writer_compiled_unless_disabled() -> None:
    if os.environ.get("FIXGW_NO_EXTENSIONS") == "1":
        assert outbound.REPORT_IMPLEMENTATION == "pure"
        assert reports.reply_for_event is reports.pure_reply_for_event
    else:
        assert outbound.REPORT_IMPLEMENTATION == "compiled", "fixgw_ext._report did not import: run pip install -e ."
        import fixgw_ext._report as ext

        assert outbound.report_fields is ext.report_fields and reports.reply_for_event is ext.reply_for_event
