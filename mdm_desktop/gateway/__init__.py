"""The device-facing HTTPS API (``/v1``) behind mutual TLS: app, TLS set-up and the server runner."""
