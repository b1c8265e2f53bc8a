"""samdesk.io."""
