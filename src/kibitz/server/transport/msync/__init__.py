"""The msync-over-WebSocket gateway the official Agora Chat SDKs speak."""
