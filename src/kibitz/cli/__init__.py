"""The ``kibitz`` command line."""
