"""One module per `smsh` subcommand (see `scenarios.cli.COMMANDS`)."""
