from matheval.cli import main

raise SystemExit(main())
