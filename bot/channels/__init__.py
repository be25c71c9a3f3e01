"""Channel adapters at the edge: they turn a protocol's messages into ``Incoming`` and send replies."""
