from __future__ import annotations

from kibitz.cli.main import main

main()
