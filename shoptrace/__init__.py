"""Shared plumbing of the shoptrace services: tracing, logging, errors, serving."""
