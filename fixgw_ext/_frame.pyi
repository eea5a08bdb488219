"""Type stubs of the compiled frame builder; the behaviour is that of ``fixgw.session.messages.build_frame``."""

def build_frame(begin: bytes, mid: bytes, msg_type: bytes, seq: int, sending_time: bytes, extra_header: bytes,
                lead: bytes, shared: bytes, shared_sum: int) -> bytes: ...
