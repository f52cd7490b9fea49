"""The simulated engine: the same operations over an in-memory host, for trial and the D-Bus tier."""

# validation before options: the two import each other while the D-Bus layer still
# passes the dict form (issue 17 transition); options first would fail
from ... import validation  # noqa: F401
