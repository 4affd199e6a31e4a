"""The dispatch engine: plain Python, no Django (a test enforces it).

Problem in, Plan out. Travel times come from a matrix provider (OSRM or straight-line).
"""
