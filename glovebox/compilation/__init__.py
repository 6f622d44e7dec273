"""The compilation domain: ZMK west workspaces, their cache, and the build service."""
