"""Business rules of kibitz. Talks to storage and transports only through ``ports``."""
