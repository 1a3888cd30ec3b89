"""The duty desk: the web console, server-rendered with Jinja2 and htmx."""
