"""Recognizers that back-classify rendered media, and the metrics over their results."""
