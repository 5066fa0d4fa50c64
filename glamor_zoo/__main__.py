import sys

from glamor_zoo_cli import main

sys.exit(main())
