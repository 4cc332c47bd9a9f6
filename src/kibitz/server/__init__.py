"""The kibitz server: domain services, storage, bus and transports. No public API."""
