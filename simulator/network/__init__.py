"""Pure carrier model: subscribers, ownership history, routes, handsets, outcomes."""
