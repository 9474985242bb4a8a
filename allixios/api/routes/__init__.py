"""Route modules, one per area of the seed's interfaces; each exposes `router`."""
