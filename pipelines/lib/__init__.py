"""Building blocks shared by every source: configuration, readers, contracts, the warehouse."""
