"""Planport keeps planning models fresh by importing data into their blocks."""

__version__ = "0.1.0"
