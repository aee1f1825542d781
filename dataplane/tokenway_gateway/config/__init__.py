"""Loading and hot-swapping the gateway's config snapshot."""
