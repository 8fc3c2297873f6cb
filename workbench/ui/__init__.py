"""The Textual face of the workbench. Imports textual; nothing in ``workbench.core`` imports this package."""
