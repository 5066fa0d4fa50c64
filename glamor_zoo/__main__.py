import sys

from glamor_zoo.cli import main

sys.exit(main())
