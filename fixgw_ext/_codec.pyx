raise ImportError("fixgw_ext._codec: placeholder, not built yet")
