"""Every example runs, offline, and prints what it promises."""
