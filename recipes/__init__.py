"""Training recipes, one per kzoo model: `python recipes/<name>.py` or `kzoo train <name>`."""
