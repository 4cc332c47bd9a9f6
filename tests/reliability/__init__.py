"""The reliability lane: hostile clients and hard stops against a real ``kibitz serve``."""
