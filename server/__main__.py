"""``python -m server [--host H] [--port P]``: the same as ``zhengce serve``."""

import sys

from server.cli import main

raise SystemExit(main(["serve", *sys.argv[1:]]))
