"""The `feedwatch` command, and `python -m feedwatch`.

The command's script imports this module, and so does every process poll/processes.py
spawns, as it runs the parent's main script again: the CLI (and the libraries it loads, 11 MB
a worker) is imported only when main() is called.
"""

import sys


def main() -> int:
    """Run the command line (feedwatch.cli.main)."""
    from feedwatch.cli import main as run

    return run()


if __name__ == "__main__":
    sys.exit(main())
