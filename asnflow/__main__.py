import sys

from asnflow.cli import main

sys.exit(main())
