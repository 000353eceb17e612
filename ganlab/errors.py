"""The one exception ganlab raises for what a user asked for or handed it."""


class GanlabError(Exception):
    """An error in what the user asked for: printed as one paragraph, without a traceback, exit status 2."""
