"""Definitions of the maintenance area, merged into `allixios_assets.definitions.defs`."""

import dagster as dg

defs = dg.Definitions()
