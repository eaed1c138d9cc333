"""The ``twinlock`` command line. Each module here registers its own subcommands."""
