import sys

from raycil.report.cli import main

if __name__ == "__main__":
    sys.exit(main())
