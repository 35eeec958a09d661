"""The discovery protocol: what a discovery Job prints and how it becomes template status."""
