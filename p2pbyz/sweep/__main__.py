"""``python -m p2pbyz.sweep``: the same command line as ``p2pbyz sweep``."""

from ._cli import main

if __name__ == "__main__":
    raise SystemExit(main(prog="python -m p2pbyz.sweep"))
