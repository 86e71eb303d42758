import sys

from budgetlr.cli import main

if __name__ == "__main__":  # spawned benchmark workers import this module too
    sys.exit(main())
