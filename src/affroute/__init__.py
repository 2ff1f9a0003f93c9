"""affroute: ticket routing for affiliate programs."""
