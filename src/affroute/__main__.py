"""Run the CLI as ``python -m affroute``."""

from affroute.cli import app

app(prog_name="affroute")
