"""One module per msync concern; ``table.py`` maps commands and meta namespaces to them."""
