"""The README's SDK example runs as shown (with the credentials a server printed)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.conftest import LiveServer

README = Path(__file__).parents[2] / "README.md"


def sdk_example() -> str:
    section = README.read_text().split("## Python SDK", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, "no python example in the README's SDK section"
    return match.group(1)


def test_the_example_is_short() -> None:
    code = [line for line in sdk_example().splitlines() if line.strip()]
    assert len(code) <= 15  # imports, main's ten lines, the run


def test_the_readme_example_runs(
    live_server_factory: Callable[..., LiveServer], tmp_path: Path
) -> None:
    server = live_server_factory()
    app = server.create_app("kibitz", "demo")
    server.start()
    code = sdk_example()
    call = "asyncio.run(main())"
    assert call in code
    code = code.replace(
        call,
        f"asyncio.run(main(server={server.rest!r}, client_id={app['client_id']!r}, "
        f"client_secret={app['client_secret']!r}))",
    )
    script = tmp_path / "example.py"
    script.write_text(code)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(r"alice: hi bob \(id \d+\)\n", done.stdout), done.stdout
