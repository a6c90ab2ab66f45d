"""Test doubles shared by the whole test suite (real HTTP servers on 127.0.0.1, not mocks)."""
