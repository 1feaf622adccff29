"""Plain types and rules shared by all layers. Imports nothing else of Planport."""
