"""News in: RSS/Atom collection, historical imports and the point-in-time news archive.

The flow is fetch (bytes, with limits) -> parse (feedparser, then our own dates, sanitising, language and
symbols) -> archive (SQLite, one row per item version). Nothing here knows of models or strategies.
"""
