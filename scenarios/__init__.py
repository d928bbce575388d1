"""Scenario harness: schema, loader, runner, expectations, reports and the `smsh` CLI."""
