import sys

from allixios.cli import main

sys.exit(main())
