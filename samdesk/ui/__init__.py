"""samdesk.ui."""
