import sys

from budgetlr.cli import main

sys.exit(main())
