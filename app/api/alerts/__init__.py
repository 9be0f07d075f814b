"""Alert sessions and details: what comparing captures found, its evidence and reviews."""
