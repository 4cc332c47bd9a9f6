"""SQL adapters implementing the domain's storage ports."""
