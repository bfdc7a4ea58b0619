"""The ``isthmus`` command line: thin commands over the packages beside it."""
