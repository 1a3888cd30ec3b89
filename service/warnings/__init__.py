"""Public early warnings (预警): recipients by area, the draft → review → sign-off →
publish workflow, updates and lifting, CAP 1.2 out to feeds and receivers, SMS and email
to everyone in the area."""
