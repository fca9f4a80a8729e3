"""The work behind `dev.py`'s commands: running notebooks, building and checking the site, the assignments."""
