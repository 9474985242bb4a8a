"""The first-party beacon and its collector: sites and keys, privacy (salt, visitor id, bots), the
write-ahead log and the lander that moves accepted events into the tenant's landing feed and raw."""
