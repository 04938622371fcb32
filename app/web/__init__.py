"""Server-rendered pages: Jinja2 templates, one CSS file, a little plain JavaScript, no build step."""
