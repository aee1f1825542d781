"""Upstream connections, the per-request pipeline and stream relay."""
