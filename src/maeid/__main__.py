from maeid.cli import main

raise SystemExit(main())
