import sys

from feedwatch.cli import main

sys.exit(main())
