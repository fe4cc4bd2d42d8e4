"""Out to readers: the digest feeds and feedwatch's own HTTP server."""
