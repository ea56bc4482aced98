"""Sphinx configuration for the schedtutor site (sources in docs/)."""

project = "schedtutor"
author = "schedtutor developers"
extensions = ["myst_nb"]
exclude_patterns = ["_build"]
