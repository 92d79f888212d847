"""Paths and traffic over the yard's lane graph (see the routing issue)."""
