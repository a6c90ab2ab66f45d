"""What every app of the platform shares and nothing else: the Celery wiring and the error base.

The bottom layer: it imports no app of the platform.
"""
