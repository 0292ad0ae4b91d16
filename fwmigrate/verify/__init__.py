"""Proving a translation: evaluating packets over the IR (and, later, comparing rulesets)."""
