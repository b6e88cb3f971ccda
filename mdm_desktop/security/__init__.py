"""Cryptographic building blocks: passwords, key file, TOTP, certificate authority."""
