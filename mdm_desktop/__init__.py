"""MDM Desktop: a mobile device management console for small healthcare clinics."""

__version__ = "0.1.0"
