import sys

from devtools.mcp_server.server import main

sys.exit(main())
