"""``python -m app`` is the ``ansinh`` command."""

from app.cli import main

if __name__ == "__main__":  # not when a worker process (multiprocessing "spawn") imports this module
    main()
