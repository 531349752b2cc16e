"""The web app: Django project settings, pages (templates + htmx), JSON API, admin."""
