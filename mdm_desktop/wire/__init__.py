"""Wire schema shared by the gateway and the device side."""
