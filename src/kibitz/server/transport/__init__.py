"""Transports: the Agora-compatible REST API and the msync real-time gateway."""
