"""The MoErgo domain: cached access to the MoErgo layout API."""

from glovebox.moergo.client import Fetch, MoergoApiError, MoergoClient, UrllibFetcher

__all__ = ["Fetch", "MoergoApiError", "MoergoClient", "UrllibFetcher"]
