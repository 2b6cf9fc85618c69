"""The ground floor: errors, validation, JSON helpers and atomic file writes.

Every other part of toyforge (theory, constructions, verify, figures, the front) may import
from here; nothing here imports any other part of the project.
"""
