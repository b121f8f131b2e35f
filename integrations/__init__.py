"""Clients of the vendors the portal talks to, beneath every app (they import no app)."""
