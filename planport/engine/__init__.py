"""The import engine: read a file the way its author meant it, map it into a block, write it
set-based, and say exactly what happened. Knows no web and no scheduling."""
