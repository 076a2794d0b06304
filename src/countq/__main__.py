import sys

from countq.cli import main

sys.exit(main())
