"""samdesk.core."""
