"""``python -m app`` is the ``ansinh`` command."""

from app.cli import main

main()
