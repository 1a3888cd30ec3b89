"""Text for people: Jinja2 templates in Chinese and English, rendered in one place."""
