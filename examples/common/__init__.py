"""What the example apps share: models, settings from the environment, the
gallery operations and the Jinja2 templates.  Each app is the thin layer of
its framework over these."""

from pathlib import Path

#: The Jinja2 templates both apps render.
TEMPLATES = Path(__file__).parent / "templates"
