"""Publishing: the tenant's static site built from live article versions, and its media library.

Plain domain code (no Dagster): ``site.build_site`` writes a release, ``releases`` switches and rolls
back, ``serve`` answers HTTP from the live release, ``media`` keeps the image library.
"""
