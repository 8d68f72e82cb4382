"""The `egraffbench` command."""
