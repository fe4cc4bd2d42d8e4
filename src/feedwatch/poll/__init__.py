"""Network in: HTTP fetching, the address guard, the host pool, parsing and article pages."""
