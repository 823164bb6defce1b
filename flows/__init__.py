"""Prefect flows: they orchestrate the use cases in ``cases`` and hold no business rules."""
