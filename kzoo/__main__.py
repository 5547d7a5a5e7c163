import sys

from kzoo_cli import main

sys.exit(main())
