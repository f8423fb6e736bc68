"""Synthetic document factory: seeded pages with exact ground truth for training and tests.

``generator.generate_page(seed)`` renders one page (layout per document type, print and
handwriting fonts, checkboxes, signatures) and degrades it like a scan; every coordinate of its
ground truth is in the final, skewed page. ``dataset`` writes and reads PNG + JSON folders.
"""
