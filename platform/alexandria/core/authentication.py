"""Reading credentials from the Authorization header, for every authentication class."""

from rest_framework import authentication, exceptions


def credentials(request, scheme: str) -> str | None:
    """The token after ``scheme`` in the Authorization header (None: another scheme)."""
    header = authentication.get_authorization_header(request).decode("latin-1")
    prefix, _, token = header.partition(" ")
    if prefix.lower() != scheme.lower():
        return None
    token = token.strip()
    if not token:
        raise exceptions.AuthenticationFailed(f"Empty {scheme} token.")
    return token
