"""Measurements of what Alexandria keeps, run from the command line (``alexandria eval``).

``fidelity`` asks how much knowledge survives extraction: LAION's multiple-choice protocol,
answered once from what Alexandria stores of a text and once from the text itself.
"""
