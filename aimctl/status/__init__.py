"""Pure status helpers shared by every AIM controller (conditions, status composition)."""
