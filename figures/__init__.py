"""matplotlib renderers; matplotlib is imported only inside this package."""
